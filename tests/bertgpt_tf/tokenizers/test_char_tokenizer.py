import os

import pytest
import tensorflow as tf

from bertgpt_tf.tokenizers.char_tokenizer import (
    CharTokenizer,
    build_char_vocabulary,
    read_char_vocabulary,
    write_char_vocabulary,
)
from bertgpt_tf.tokenizers.special_tokens import GPT_SPECIAL_TOKENS
from pipelines.sources import resolve_data_dir


def _tiny_shakespeare() -> str:
    """The shared data's copy, found as the product finds data ("" if there is none)."""
    try:
        return os.path.join(resolve_data_dir(), "tinyshakespeare", "input.txt")
    except FileNotFoundError:
        return ""


TINY_SHAKESPEARE = _tiny_shakespeare()
TEXT = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\n"
    "All:\nSpeak,  speak.\tCafé déjà vu, 我爱北京 🙂🎉 \r\n"
)
STRINGS = ["", "\n\n", "Speak, speak.", "Café 🙂", "  我  \t", TEXT]  # known characters only


@pytest.fixture(scope="module")
def vocabulary() -> list[str]:
    return build_char_vocabulary(TEXT)


@pytest.fixture(scope="module")
def tokenizer(vocabulary) -> CharTokenizer:
    return CharTokenizer(vocabulary)


def test_build_char_vocabulary(vocabulary):
    assert vocabulary == sorted(set(TEXT)) and vocabulary[:3] == ["\t", "\n", "\r"]
    assert build_char_vocabulary(TEXT.splitlines(keepends=True)) == vocabulary
    assert "🙂" in vocabulary and "我" in vocabulary


def test_ids_are_nanogpt_stoi_and_round_trip_is_exact(tokenizer, vocabulary):
    stoi = {char: index for index, char in enumerate(vocabulary)}
    ids = tokenizer.tokenize(tf.constant(STRINGS))
    assert ids.dtype == tf.int32 and ids.shape.rank == 2
    assert ids.to_list() == [[stoi[char] for char in string] for string in STRINGS]
    assert tokenizer.detokenize(ids).numpy().tolist() == [s.encode() for s in STRINGS]
    assert tokenizer.detokenize(tokenizer.tokenize(TEXT)).numpy().decode() == TEXT  # scalar


def test_special_ids(tokenizer, vocabulary):
    n = len(vocabulary)
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.end_id) == (n, n + 1, n + 2)
    assert tokenizer.vocabulary_size == n + 3
    assert tokenizer.vocabulary == vocabulary + list(GPT_SPECIAL_TOKENS)
    specials = [tokenizer.end_id, 0, tokenizer.pad_id, tokenizer.unk_id, 0]
    assert tokenizer.detokenize(tf.constant(specials)).numpy().decode() == "\t\ufffd\t"


def test_unknown_and_bad_input_do_not_crash(tokenizer, vocabulary):
    s, unk = vocabulary.index("S"), tokenizer.unk_id
    ids = tokenizer.tokenize(tf.constant(["S€S", "\U0010ffff", b"S\xff\xfeS", b"S\xc3", b""]))
    # Unknown characters and each invalid UTF-8 sequence (read as U+FFFD) are unk_id.
    assert ids.to_list() == [[s, unk, s], [unk], [s, unk, unk, s], [s, unk], []]
    assert tokenizer.detokenize(ids[:1]).numpy()[0].decode() == "S\ufffdS"
    # Out-of-range ids are dropped; padded dense ids are accepted.
    odd = tf.ragged.constant([[-1, s, tokenizer.vocabulary_size, 10**6]], tf.int64)
    assert tokenizer.detokenize(odd).numpy().tolist() == [b"S"]
    padded = tf.constant([[s, s, tokenizer.pad_id], [tokenizer.pad_id] * 3])
    assert tokenizer.detokenize(padded).numpy().tolist() == [b"SS", b""]
    with pytest.raises(ValueError, match="1-D"):
        tokenizer.tokenize(tf.constant([["a"]]))


def test_same_ids_eagerly_and_in_dataset_map(tokenizer):
    eager = tokenizer.tokenize(tf.constant(STRINGS)).to_list()
    dataset = tf.data.Dataset.from_tensor_slices(STRINGS).batch(4).map(tokenizer.tokenize)
    assert [row for batch in dataset for row in batch.to_list()] == eager
    scalars = tf.data.Dataset.from_tensor_slices(STRINGS).map(tokenizer.tokenize)
    assert [row.numpy().tolist() for row in scalars] == eager
    detokenized = dataset.map(tokenizer.detokenize).unbatch()
    assert [s.decode() for s in detokenized.as_numpy_iterator()] == STRINGS


def test_vocabulary_file_and_config_round_trip(tmp_path, vocabulary):
    path = str(tmp_path / "chars.json")
    write_char_vocabulary(path, vocabulary)
    assert read_char_vocabulary(path) == vocabulary
    tokenizer = CharTokenizer(path)
    assert tokenizer.get_config() == {"vocabulary": path}
    clone = CharTokenizer(**tokenizer.get_config())
    from_list = CharTokenizer(**CharTokenizer(vocabulary).get_config())
    expected = tokenizer.tokenize(tf.constant(STRINGS)).to_list()
    assert clone.tokenize(tf.constant(STRINGS)).to_list() == expected
    assert from_list.tokenize(tf.constant(STRINGS)).to_list() == expected
    # Any order is accepted: ids follow the list, not the code points.
    assert CharTokenizer(["b", "a"]).tokenize(tf.constant("abc")).numpy().tolist() == [1, 0, 3]


@pytest.mark.parametrize("bad", [["a", "a"], ["ab"], [""], []])
def test_bad_vocabularies_are_refused(tmp_path, bad):
    with pytest.raises(ValueError):
        CharTokenizer(bad)
    with pytest.raises(ValueError):
        write_char_vocabulary(str(tmp_path / "chars.json"), bad)


def test_saved_model_reloads_in_a_fresh_process(
    tmp_path, vocabulary, reload_tokenizer_in_fresh_process
):
    path = str(tmp_path / "chars.json")
    write_char_vocabulary(path, vocabulary)
    tokenizer = CharTokenizer(path)
    strings = STRINGS + ["unknown € here"]
    # core TF ops only: the reloading process does not even import tensorflow_text
    assets, ids, detokenized = reload_tokenizer_in_fresh_process(tokenizer, strings, False)
    assert assets == ["chars.json"]
    assert ids == tokenizer.tokenize(tf.constant(strings)).to_list()
    assert detokenized == STRINGS + ["unknown \ufffd here"]


@pytest.mark.skipif(not os.path.exists(TINY_SHAKESPEARE), reason="Tiny Shakespeare not found")
def test_tiny_shakespeare_has_65_characters():
    with open(TINY_SHAKESPEARE, encoding="utf-8") as file:
        text = file.read()
    vocabulary = build_char_vocabulary(text)
    assert len(vocabulary) == 65 and vocabulary[:3] == ["\n", " ", "!"]
    tokenizer = CharTokenizer(vocabulary)
    ids = tokenizer.tokenize(text)  # 1.1 M characters, one string
    assert ids.shape == (len(text),) and int(tf.reduce_max(ids)) == 64
    assert tokenizer.detokenize(ids).numpy().decode() == text

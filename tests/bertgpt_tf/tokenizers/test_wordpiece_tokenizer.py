import numpy as np
import pytest
import tensorflow as tf

from bertgpt_tf.tokenizers.special_tokens import (
    CLS_ID,
    MASK,
    MASK_ID,
    PAD_ID,
    SEP_ID,
    SPECIAL_TOKENS,
    UNK_ID,
)
from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer
from bertgpt_tf.tokenizers.wordpiece_vocab import (
    split_words,
    train_wordpiece_vocabulary,
    write_vocabulary,
)

SENTENCES = [
    "Café Über naïve résumé, déjà vu!",
    "The capital of France is Paris.",
    "Hello-world: (tokenizers) split punctuation; don't they?",
    "我爱北京天安门。今天天气很好！",
    "The cats sat on the mats, the dogs sat on the logs.",
    "Unrelated ÉCOLE words: cataloguing dogmatic paradise.",  # pieces of known words
]


@pytest.fixture(scope="module")
def vocabulary() -> list[str]:
    return train_wordpiece_vocabulary(SENTENCES[:5] * 3, vocabulary_size=300, progress=False)


@pytest.fixture(scope="module")
def tokenizer(vocabulary) -> WordPieceTokenizer:
    return WordPieceTokenizer(vocabulary)


def test_special_ids_and_vocabulary(tokenizer, vocabulary):
    ids = (tokenizer.pad_id, tokenizer.unk_id, tokenizer.cls_id, tokenizer.sep_id)
    assert ids + (tokenizer.mask_id,) == (PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID)
    assert tokenizer.token_to_id(MASK) == MASK_ID
    assert tokenizer.id_to_token(tf.range(5)).numpy().tolist() == [
        t.encode() for t in SPECIAL_TOKENS
    ]
    assert tokenizer.vocabulary == vocabulary and tokenizer.vocabulary_size == len(vocabulary)
    continuation = [token.startswith("##") for token in vocabulary]
    assert tokenizer.is_continuation.numpy().tolist() == continuation and any(continuation)
    with pytest.raises(KeyError, match="not-a-token"):
        tokenizer.token_to_id("not-a-token")
    with pytest.raises(ValueError, match=r"\[MASK\]"):
        WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a"])


def test_detokenize_gives_the_training_time_words(tokenizer):
    ids = tokenizer.tokenize(tf.constant(SENTENCES))
    assert ids.dtype == tf.int32 and ids.shape.rank == 2
    assert UNK_ID not in ids.flat_values.numpy()
    words = split_words(tf.constant(SENTENCES)).to_list()
    assert tokenizer.detokenize(ids).numpy().tolist() == [b" ".join(row) for row in words]
    assert tokenizer.detokenize(ids)[0].numpy().decode() == "cafe uber naive resume , deja vu !"
    assert tokenizer.detokenize(ids)[3].numpy().decode() == " ".join(
        "我爱北京天安门。今天天气很好!"
    )
    # The last sentence was not in the training text: its words are cut into pieces.
    pieces = tokenizer.id_to_token(ids[5]).numpy().tolist()
    assert any(piece.startswith(b"##") for piece in pieces)


def test_tokenize_words_groups_pieces_by_word(tokenizer):
    strings = tf.constant(SENTENCES)
    words = tokenizer.tokenize_words(strings)  # (batch, words, pieces)
    assert words.merge_dims(1, 2).to_list() == tokenizer.tokenize(strings).to_list()
    assert (
        words.row_lengths().numpy().tolist() == split_words(strings).row_lengths().numpy().tolist()
    )
    is_continuation = tokenizer.is_continuation.numpy()
    for word in words.values.to_list():
        assert not is_continuation[word[0]] and all(is_continuation[word[1:]])
    assert tokenizer.tokenize_words(tf.constant("the cats")).shape.rank == 2  # (words, pieces)


def test_mask_literal_survives_only_when_asked(vocabulary):
    request = tf.constant(["The capital of France is [MASK].", "[MASK][CLS] x\x00the [SEP]"])
    serving = WordPieceTokenizer(vocabulary, special_tokens_in_strings=True)
    tokens = serving.id_to_token(serving.tokenize(request)).to_list()
    assert tokens[0] == [b"the", b"capital", b"of", b"france", b"is", b"[MASK]", b"."]
    assert tokens[1] == [b"[MASK]", b"[CLS]", b"[UNK]", b"the", b"[SEP]"]  # "x" is unknown
    assert serving.tokenize_words(request)[0, 5].numpy().tolist() == [MASK_ID]
    plain = WordPieceTokenizer(vocabulary).tokenize(request)
    assert MASK_ID not in plain.flat_values.numpy()  # "[", "mask", "]" instead
    text_only = tf.constant(SENTENCES)
    assert (
        serving.tokenize(text_only).to_list()
        == WordPieceTokenizer(vocabulary).tokenize(text_only).to_list()
    )


@pytest.mark.parametrize("special_tokens_in_strings", [False, True])
def test_same_ids_eagerly_and_in_dataset_map(vocabulary, special_tokens_in_strings):
    tokenizer = WordPieceTokenizer(vocabulary, special_tokens_in_strings=special_tokens_in_strings)
    strings = SENTENCES + ["is [MASK] here", ""]
    eager = tokenizer.tokenize(tf.constant(strings)).to_list()
    dataset = tf.data.Dataset.from_tensor_slices(strings).batch(3).map(tokenizer.tokenize)
    assert [row for batch in dataset for row in batch.to_list()] == eager
    words = tf.data.Dataset.from_tensor_slices(strings).batch(3).map(tokenizer.tokenize_words)
    assert [row for batch in words for row in batch.merge_dims(1, 2).to_list()] == eager


@pytest.mark.parametrize("special_tokens_in_strings", [False, True])
def test_odd_inputs_do_not_crash(vocabulary, special_tokens_in_strings):
    tokenizer = WordPieceTokenizer(vocabulary, special_tokens_in_strings=special_tokens_in_strings)
    the, sat = tokenizer.token_to_id("the"), tokenizer.token_to_id("sat")
    ids = tokenizer.tokenize(tf.constant([b"\xff\xfe the", b"the\x00sat", b"", b"the sat\xc3"]))
    # Invalid UTF-8 stays inside its word, which becomes [UNK]; NUL separates words.
    assert ids.to_list() == [[UNK_ID, the], [the, sat], [], [the, UNK_ID]]
    assert tokenizer.tokenize(tf.constant("the")).numpy().tolist() == [the]  # scalar -> 1-D
    megabyte = tf.constant(["the sat " * 131072])  # 1 MiB
    assert tokenizer.tokenize(megabyte).row_lengths().numpy().tolist() == [262144]
    assert tokenizer.tokenize(tf.constant(["x" * 300])).to_list() == [[UNK_ID]]


def test_detokenize_shapes(tokenizer):
    the, sat = tokenizer.token_to_id("the"), tokenizer.token_to_id("sat")
    assert tokenizer.detokenize(tf.constant([the, sat])).numpy() == b"the sat"
    dense = tokenizer.detokenize(tf.constant([[the, sat], [sat, the]]))
    assert dense.numpy().tolist() == [b"the sat", b"sat the"]
    assert tokenizer.detokenize(tf.ragged.constant([[], [the]], tf.int32)).numpy().tolist() == [
        b"",
        b"the",
    ]


def test_get_config_round_trip(tmp_path, vocabulary):
    path = str(tmp_path / "vocab.txt")
    write_vocabulary(path, vocabulary)
    tokenizer = WordPieceTokenizer(
        path, lower_case=False, special_tokens_in_strings=True, normalization="bert"
    )
    config = tokenizer.get_config()
    assert config == {
        "vocabulary": path, "lower_case": False, "special_tokens_in_strings": True,
        "normalization": "bert",
    }  # fmt: skip
    clone = WordPieceTokenizer(**config)
    assert clone.vocabulary == vocabulary and clone.get_config() == config
    strings = tf.constant(["Café the [MASK]"])
    assert clone.tokenize(strings).to_list() == tokenizer.tokenize(strings).to_list()
    cased = tokenizer.id_to_token(tokenizer.tokenize(strings)).to_list()
    assert cased == [[b"[UNK]", b"the", b"[MASK]"]]  # no lower-casing: "Café" is unknown


def test_saved_model_reloads_with_only_tensorflow_text(
    tmp_path, vocabulary, reload_tokenizer_in_fresh_process
):
    path = str(tmp_path / "vocab.txt")
    write_vocabulary(path, vocabulary)
    tokenizer = WordPieceTokenizer(path, special_tokens_in_strings=True)
    strings = SENTENCES + ["the capital of france is [MASK].", ""]
    assets, ids, _ = reload_tokenizer_in_fresh_process(tokenizer, strings)
    assert assets == ["vocab.txt"]
    expected = tokenizer.tokenize(tf.constant(strings)).to_list()
    assert ids == expected
    assert np.isin(MASK_ID, expected[-2])

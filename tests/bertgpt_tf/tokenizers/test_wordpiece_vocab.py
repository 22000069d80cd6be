import pytest
import tensorflow as tf

from bertgpt_tf.tokenizers.special_tokens import SPECIAL_TOKENS
from bertgpt_tf.tokenizers.wordpiece_vocab import (
    count_words,
    learn_vocabulary,
    read_vocabulary,
    split_words,
    train_wordpiece_vocabulary,
    write_vocabulary,
)

CORPUS = [
    "Café Über naïve résumé, déjà vu!",
    "The capital of France is Paris.",
    "Hello-world: (tokenizers) split punctuation; don't they?",
    "我爱北京天安门。今天天气很好！",
    "The cats sat on the mats, the dogs sat on the logs.",
] * 3


def _words(strings) -> list[list[str]]:
    return [[w.decode("utf-8") for w in row] for row in split_words(strings).to_list()]


def test_split_words_normalizes_and_splits_like_bert():
    chinese = "我爱北京天安门。今天天气很好！"
    words = _words(tf.constant(["Café Über naïve, hello-world!", chinese]))
    assert words[0] == ["cafe", "uber", "naive", ",", "hello", "-", "world", "!"]
    assert words[1] == list(chinese[:-1]) + ["!"]  # one word per character; "！" -> "!"
    cased = split_words(tf.constant(["Café Über"]), lower_case=False).to_list()
    assert cased == [["Café".encode(), "Über".encode()]]


def test_split_words_scalar_empty_and_odd_bytes():
    assert split_words(tf.constant("a b")).numpy().tolist() == [b"a", b"b"]
    assert split_words(tf.constant(["", "  "])).to_list() == [[], []]
    # NUL is a control character (a space); invalid UTF-8 stays inside its word.
    odd = split_words(tf.constant([b"ab\x00cd", b"\xff\xfe abc"])).to_list()
    assert odd == [[b"ab", b"cd"], [b"\xff\xfe", b"abc"]]


def test_split_words_same_eagerly_and_in_dataset_map():
    eager = split_words(tf.constant(CORPUS)).to_list()
    dataset = tf.data.Dataset.from_tensor_slices(CORPUS).batch(4).map(split_words)
    mapped = [row for batch in dataset for row in batch.to_list()]
    assert mapped == eager


def test_count_words_from_iterable_and_dataset_agree():
    counts = count_words(CORPUS, progress=False)
    assert counts[b"the"] == 3 * 5 and counts["我".encode()] == 3
    scalars = tf.data.Dataset.from_tensor_slices(CORPUS)
    assert count_words(scalars, batch_size=2, progress=False) == counts
    assert count_words(scalars.batch(3), progress=False) == counts


def test_count_words_stops_after_max_bytes():
    counts = count_words(["one two"] * 100, max_bytes=7 * 8, batch_size=4, progress=False)
    assert counts[b"one"] == 8


def test_train_vocabulary_layout_and_determinism(capsys):
    vocab = train_wordpiece_vocabulary(CORPUS, vocabulary_size=500)
    assert "wordpiece vocab:" in capsys.readouterr().out  # progress lines
    assert tuple(vocab[: len(SPECIAL_TOKENS)]) == SPECIAL_TOKENS
    assert len(vocab) == len(set(vocab)) <= 500
    assert {"the", "sat", "我", "!", "e"} <= set(vocab)  # whole words, CJK chars, alphabet
    assert any(token.startswith("##") for token in vocab)
    assert train_wordpiece_vocabulary(CORPUS, vocabulary_size=500, progress=False) == vocab
    small = train_wordpiece_vocabulary(CORPUS, vocabulary_size=60, progress=False)
    assert small == vocab[:60]


def test_learn_vocabulary_min_count_and_alphabet_cap():
    counts = {"hello": 10, "xyz": 1}
    assert "x" in learn_vocabulary(counts, 100, progress=False)
    assert "x" not in learn_vocabulary(counts, 100, min_count=2, progress=False)
    capped = learn_vocabulary({"ab": 5, "c": 1}, 100, max_unique_chars=2, progress=False)
    assert "c" not in capped and {"a", "b", "##b", "ab"} <= set(capped)
    # Words the tokenizer can only map to [UNK] are not learned from.
    odd = learn_vocabulary({b"\xff\xfe": 9, b"q" * 101: 9, b"ok": 1}, 100, progress=False)
    assert odd == [*SPECIAL_TOKENS, "k", "o", "##k", "ok"]


def test_write_and_read_vocabulary(tmp_path):
    path = str(tmp_path / "vocab.txt")
    vocab = [*SPECIAL_TOKENS, "café", "##s", "我"]
    write_vocabulary(path, vocab)
    assert read_vocabulary(path) == vocab
    with pytest.raises(ValueError, match="single-line"):
        write_vocabulary(path, ["a\nb"])


def test_read_vocabulary_errors_name_the_path(tmp_path):
    missing = str(tmp_path / "missing_vocab.txt")
    with pytest.raises(FileNotFoundError, match="missing_vocab.txt"):
        read_vocabulary(missing)
    empty = tmp_path / "empty_vocab.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match="empty_vocab.txt"):
        read_vocabulary(str(empty))

import io

import pytest
import sentencepiece
import tensorflow as tf

from bertgpt_tf.tokenizers.sentencepiece_tokenizer import SentencePieceTokenizer
from bertgpt_tf.tokenizers.sentencepiece_vocab import (
    MAX_SENTENCE_BYTES,
    TRAINER_OPTIONS,
    _chunks,
    read_sentencepiece_model,
    train_sentencepiece,
    write_sentencepiece_model,
)
from bertgpt_tf.tokenizers.special_tokens import END_OF_TEXT, PAD_PIECE, UNK_PIECE

TRAINING_LINES = [
    "The quick brown fox jumps over the lazy dog.\nThe dog sleeps all day.",
    "Café, naïve résumé, déjà vu: Über die Straße, garçon!",
    "我爱北京天安门。今天天气很好！他们在学校学习中文。",
    "Emoji: 🙂 🎉 👍🏽 and a flag 🇫🇷.",
    "Two  spaces,   three spaces,\ttabs\tand trailing spaces  ",
    "def main():\n    return 42\n\n\nclass Model:\n        pass\n",
    "Numbers 12345 and 3.14159 in the year 2024.",
]
UNSEEN = [
    "Ångström über 東京タワー 🚀 ∑x² ≠ ∞",  # characters never seen: byte fallback
    "  leading and trailing spaces  \n",
    "\n\n\n",
    "a\r\nb\rc\x0bd\u2028e",
    "<|endoftext|> is only text here",
    "\x00 NUL and \x7f DEL",
    "ﬁ ligature, full-width ＡＢＣ！, combining e\u0301",  # NFKC would rewrite these
    "",
]
VOCABULARY_SIZE = 350


def train(model_type: str = "bpe") -> bytes:
    return train_sentencepiece(TRAINING_LINES * 5, VOCABULARY_SIZE, model_type, progress=False)


@pytest.fixture(scope="module", params=["bpe", "unigram"])
def model(request) -> bytes:
    return train(request.param)


@pytest.fixture(scope="module")
def tokenizer(model) -> SentencePieceTokenizer:
    return SentencePieceTokenizer(model)


def test_round_trip_is_exact(tokenizer):
    strings = TRAINING_LINES + UNSEEN
    ids = tokenizer.tokenize(tf.constant(strings))
    assert ids.dtype == tf.int32 and ids.shape.rank == 2
    assert tokenizer.unk_id not in ids.flat_values.numpy()
    assert tokenizer.detokenize(ids).numpy().tolist() == [s.encode() for s in strings]
    for string in strings:  # one by one: scalar in, scalar out
        assert tokenizer.detokenize(tokenizer.tokenize(string)).numpy().decode() == string


def test_special_ids_and_pieces(tokenizer):
    assert (tokenizer.pad_id, tokenizer.unk_id, tokenizer.end_id) == (0, 1, 2)
    assert tokenizer.vocabulary[:5] == [PAD_PIECE, UNK_PIECE, END_OF_TEXT, "\n", "<0x00>"]
    assert tokenizer.vocabulary_size == VOCABULARY_SIZE == len(tokenizer.vocabulary)
    # Control ids detokenize to nothing, <unk> to U+FFFD.
    ids = tf.constant([tokenizer.end_id, tokenizer.pad_id, tokenizer.unk_id])
    assert tokenizer.detokenize(ids).numpy().decode() == "\ufffd"
    # The end-of-text text is ordinary text; a newline is always its own token.
    assert tokenizer.end_id not in tokenizer.tokenize(END_OF_TEXT).numpy()
    pieces = tokenizer.id_to_token(tokenizer.tokenize("dog.\n\nThe")).numpy().tolist()
    assert pieces.count(b"\n") == 2 and all(p == b"\n" or b"\n" not in p for p in pieces)


def test_trainer_options_change_tokens(tokenizer):
    pieces = tokenizer.id_to_token(tokenizer.tokenize("year 2024")).numpy().tolist()
    assert pieces[-4:] == [b"2", b"0", b"2", b"4"]  # split_digits
    novel = tokenizer.id_to_token(tokenizer.tokenize("東")).numpy().tolist()
    assert novel == [b"<0xE6>", b"<0x9D>", b"<0xB1>"]  # byte fallback


@pytest.mark.parametrize("whitespace_only_pieces", [True, False])
def test_bpe_learns_runs_of_spaces(monkeypatch, whitespace_only_pieces):
    monkeypatch.setitem(TRAINER_OPTIONS, "allow_whitespace_only_pieces", whitespace_only_pieces)
    tokenizer = SentencePieceTokenizer(train("bpe"))
    indent = tokenizer.id_to_token(tokenizer.tokenize("        pass")).numpy().tolist()
    spaces = [piece for piece in indent if set(piece.decode()) == {"▁"}]
    assert len(spaces) == (2 if whitespace_only_pieces else 8)  # "▁▁▁▁" pieces or single "▁"


def test_bad_input_does_not_crash(tokenizer):
    ids = tokenizer.tokenize(tf.constant([b"\xff\xfe dog", b"dog\xc3", b""]))
    # Each invalid byte is read as U+FFFD; an empty string has no tokens.
    assert tokenizer.detokenize(ids).numpy().tolist() == [
        "\ufffd\ufffd dog".encode(),
        "dog\ufffd".encode(),
        b"",
    ]
    dog = tokenizer.tokenize("dog").numpy().tolist()
    # Out-of-range ids are dropped; padded dense ids are accepted (padding is dropped).
    odd = tf.ragged.constant([[-1] + dog + [VOCABULARY_SIZE, 10**6]])
    assert tokenizer.detokenize(odd).numpy().tolist() == [b"dog"]
    padded = tf.constant([dog + [tokenizer.pad_id] * 3, [tokenizer.pad_id] * (len(dog) + 3)])
    assert tokenizer.detokenize(padded).numpy().tolist() == [b"dog", b""]
    with pytest.raises(ValueError, match="1-D"):
        tokenizer.tokenize(tf.constant([["a"]]))


def test_same_ids_eagerly_and_in_dataset_map(tokenizer):
    strings = TRAINING_LINES + UNSEEN
    eager = tokenizer.tokenize(tf.constant(strings)).to_list()
    dataset = tf.data.Dataset.from_tensor_slices(strings).batch(3).map(tokenizer.tokenize)
    assert [row for batch in dataset for row in batch.to_list()] == eager
    scalars = tf.data.Dataset.from_tensor_slices(strings).map(tokenizer.tokenize)
    assert [row.numpy().tolist() for row in scalars] == eager
    detokenized = dataset.map(tokenizer.detokenize).unbatch()
    assert [s.decode() for s in detokenized.as_numpy_iterator()] == strings


def test_trainer_inputs():
    dataset = tf.data.Dataset.from_tensor_slices(TRAINING_LINES * 5)
    assert train_sentencepiece(dataset, VOCABULARY_SIZE, progress=False) == train()
    batched = train_sentencepiece(dataset.batch(4), VOCABULARY_SIZE, progress=False)
    assert batched == train()
    pulled = []

    def lines():
        for line in TRAINING_LINES * 50:
            pulled.append(line)
            yield line

    train_sentencepiece(lines(), VOCABULARY_SIZE, max_bytes=2000, progress=False)
    assert 2000 <= sum(len(line.encode()) for line in pulled) < 2200
    with pytest.raises(ValueError, match="model_type"):
        train_sentencepiece(TRAINING_LINES, VOCABULARY_SIZE, model_type="wordpiece")


def test_long_lines_are_cut_not_skipped():
    chunks = list(_chunks("ab cd\nef gh", 7))
    assert chunks == ["ab cd\n", "ef gh"] and "".join(list(_chunks("x" * 20, 7))) == "x" * 20
    assert list(_chunks("ab cdefgh", 6)) == ["ab", " cdefg", "h"]
    # One line of 64 KB: SentencePiece alone would skip it and learn no "zebra" piece.
    line = "zebra quokka " * (4 * MAX_SENTENCE_BYTES // 13)
    model = train_sentencepiece([line], 290, progress=False)
    assert "▁zebra" in SentencePieceTokenizer(model).vocabulary


def test_models_trained_elsewhere_use_their_eos(tmp_path):
    proto = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(TRAINING_LINES), model_writer=proto, vocab_size=90,
        pad_id=-1, minloglevel=2,
    )  # fmt: skip
    tokenizer = SentencePieceTokenizer(proto.getvalue())
    assert tokenizer.vocabulary[tokenizer.end_id] == "</s>"
    assert tokenizer.pad_id == tokenizer.end_id  # no <pad> piece
    proto = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(TRAINING_LINES), model_writer=proto, vocab_size=90,
        eos_id=-1, minloglevel=2,
    )  # fmt: skip
    with pytest.raises(ValueError, match="end-of-text"):
        SentencePieceTokenizer(proto.getvalue())


def test_get_config_round_trip(tmp_path, model):
    path = str(tmp_path / "tokenizer.model")
    write_sentencepiece_model(path, model)
    assert read_sentencepiece_model(path) == model
    tokenizer = SentencePieceTokenizer(path)
    assert tokenizer.get_config() == {"model": path}
    clone = SentencePieceTokenizer(**tokenizer.get_config())
    from_bytes = SentencePieceTokenizer(**SentencePieceTokenizer(model).get_config())
    strings = tf.constant(TRAINING_LINES)
    expected = tokenizer.tokenize(strings).to_list()
    assert clone.tokenize(strings).to_list() == expected == from_bytes.tokenize(strings).to_list()
    with pytest.raises(FileNotFoundError):
        SentencePieceTokenizer(str(tmp_path / "missing.model"))


def test_saved_model_reloads_in_a_fresh_process(tmp_path, reload_tokenizer_in_fresh_process):
    path = str(tmp_path / "tokenizer.model")
    write_sentencepiece_model(path, train())
    tokenizer = SentencePieceTokenizer(path)
    strings = TRAINING_LINES + UNSEEN
    assets, ids, detokenized = reload_tokenizer_in_fresh_process(tokenizer, strings)
    assert assets == ["tokenizer.model"]
    assert ids == tokenizer.tokenize(tf.constant(strings)).to_list()
    assert detokenized == strings


def test_masked_lm_model_packs_like_bert_and_keeps_gpt_models_gpt(tmp_path):
    """RoBERTa's BPE option: [CLS]/[SEP]/[MASK] pieces, BERT packing, a typed [MASK]."""
    from bertgpt_tf.tokenizers.load_tokenizer import load_tokenizer
    from bertgpt_tf.tokenizers.segment_packer import encode_texts
    from bertgpt_tf.tokenizers.sentencepiece_tokenizer import MaskedSentencePieceTokenizer
    from bertgpt_tf.tokenizers.special_tokens import CLS, MASK, SEP

    masked = train_sentencepiece(TRAINING_LINES * 5, VOCABULARY_SIZE, "bpe", progress=False,
                                 masked_lm=True)  # fmt: skip
    path = str(tmp_path / "spm_bpe.model")
    write_sentencepiece_model(path, masked)
    tokenizer = load_tokenizer("bpe", path)
    assert isinstance(tokenizer, MaskedSentencePieceTokenizer)
    assert tokenizer.vocabulary[4:7] == [CLS, SEP, MASK]
    ids = tokenizer.tokenize(tf.constant(["the dog [MASK]. the [MASK]"])).to_list()[0]
    plain = tokenizer.tokenize(tf.constant(["the dog"])).to_list()[0]
    # The space before each [MASK] goes with it: no lone "▁" piece in front of the mask.
    assert ids[: len(plain)] == plain and ids[len(plain)] == tokenizer.mask_id
    assert ids.count(tokenizer.mask_id) == 2 and tokenizer.mask_id == 6
    inputs = encode_texts(tokenizer, tf.constant(["the dog"]), tf.constant(["a fox"]), 16, False)
    row = inputs["token_ids"].numpy()[0].tolist()
    assert row[0] == tokenizer.cls_id and row.count(tokenizer.sep_id) == 2
    assert inputs["segment_ids"].numpy()[0].max() == 1
    # Whole-word masking: "▁"-prefixed pieces start words; the specials do too.
    continuation = tokenizer.is_continuation.numpy()
    assert not continuation[tokenizer.mask_id] and not continuation[tokenizer.cls_id]
    starts = [i for i, t in enumerate(tokenizer.vocabulary) if t.startswith("\u2581")]
    assert starts and not continuation[starts].any()
    # A GPT model (no [MASK] piece) stays a plain SentencePieceTokenizer with GPT packing.
    gpt_path = str(tmp_path / "gpt.model")
    write_sentencepiece_model(gpt_path, train("bpe"))
    gpt = load_tokenizer("bpe", gpt_path)
    assert type(gpt) is SentencePieceTokenizer and not hasattr(gpt, "cls_id")

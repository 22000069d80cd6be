"""In-graph SentencePiece tokenizer (GPT-style BPE or unigram), on `tensorflow_text`."""

import re

import tensorflow as tf
import tensorflow_text as text

from bertgpt_tf.tokenizers.sentencepiece_vocab import read_sentencepiece_model
from bertgpt_tf.tokenizers.special_tokens import (
    CLS,
    END_OF_TEXT,
    MASK,
    PAD_PIECE,
    SENTENCEPIECE_EOS,
    SEP,
    UNK_PIECE,
)
from bertgpt_tf.tokenizers.text_tokenizer import TextTokenizer, nul_as_replacement


class SentencePieceTokenizer(TextTokenizer):
    """SentencePiece tokenizer made only of TF ops: runs eagerly, in `tf.data` and in a SavedModel.

    Wraps `tensorflow_text.SentencepieceTokenizer` (the SentencePiece C++ library as a TF
    kernel) with int32 ids. With a model from `sentencepiece_vocab.train_sentencepiece`
    the tokenizer is lossless: `detokenize(tokenize(s)) == s` for every valid UTF-8
    string, whitespace runs, newlines, accents, CJK and emoji included (unseen characters
    become byte tokens).

    Odd input never crashes: each byte of invalid UTF-8 is read as U+FFFD (so those
    strings do not round-trip); an empty string gives zero tokens. `detokenize` drops
    ids outside [0, vocabulary_size) (a model whose output layer is wider than the
    vocabulary may sample them) and the control ids (pad, end of text); `<unk>` becomes
    U+FFFD. The end-of-text text "<|endoftext|>" inside a string is ordinary text: only
    `end_id`, added by the pipeline, marks the end of a document.

    The model proto is a constant of the graph, so a SavedModel holding this module
    reloads with only `tensorflow` and `tensorflow_text` imported. When `model` is a file
    path it is also tracked as a `tf.saved_model.Asset` (copied to `assets/`).

    Args:
        model: serialized SentencePiece model proto, or the path of a ".model" file.
            It must have an end-of-text piece, "<|endoftext|>" or "</s>" (unless
            `require_end` is False: an encoder's, e.g. ALBERT's). Its "<pad>" piece is
            the padding id; without one, padding uses the end id.
        require_end: refuse a model without an end-of-text piece (a GPT's needs one).

    Caveat: the model is a TF resource of the eager context; `tf.random.set_seed` (and
    `keras.utils.set_random_seed`) clears eager kernels and with them this resource, so
    seed before building the tokenizer (run_train does).

    Example:
    >>> from bertgpt_tf.tokenizers.sentencepiece_vocab import train_sentencepiece
    >>> model = train_sentencepiece(["the cat sat on the mat"] * 10, 280, progress=False)
    >>> tokenizer = SentencePieceTokenizer(model)
    >>> ids = tokenizer.tokenize(tf.constant(["the cat\\n", "mat  🙂"]))
    >>> tokenizer.detokenize(ids).numpy().tolist() == ["the cat\\n".encode(), "mat  🙂".encode()]
    True
    """

    def __init__(self, model: bytes | str, require_end: bool = True):
        super().__init__(name="sentencepiece_tokenizer")
        self._config_model = model
        if isinstance(model, str):
            self.model_file = tf.saved_model.Asset(model)
            model = read_sentencepiece_model(model)
        with tf.init_scope():  # the model resource and constants stay eager even if traced
            self._sentencepiece = text.SentencepieceTokenizer(model, out_type=tf.int32)
            self._tokens = self._sentencepiece.id_to_string(
                tf.range(self._sentencepiece.vocab_size())
            )
            tokens = [token.decode("utf-8") for token in self._tokens.numpy().tolist()]
        self._vocabulary_size = len(tokens)
        ids = {token: index for index, token in reversed(list(enumerate(tokens)))}
        end = END_OF_TEXT if END_OF_TEXT in ids else SENTENCEPIECE_EOS
        if end not in ids and require_end:
            raise ValueError(f"The model has no end-of-text piece {END_OF_TEXT!r} or {end!r}.")
        self._ids = ids
        self._end_id = ids.get(end, -1)
        self._pad_id = ids.get(PAD_PIECE, self._end_id)
        self._unk_id = ids.get(UNK_PIECE, -1)

    # === Tokenize / detokenize ===
    def _tokenize_batch(self, strings: tf.Tensor) -> tf.RaggedTensor:
        return self._sentencepiece.tokenize(strings)  # (batch, tokens)

    def _detokenize_batch(self, ids: tf.RaggedTensor) -> tf.Tensor:
        in_range = (ids >= 0) & (ids < self._vocabulary_size)
        return self._sentencepiece.detokenize(tf.ragged.boolean_mask(ids, in_range))

    def id_to_token(self, ids: tf.Tensor | tf.RaggedTensor) -> tf.Tensor | tf.RaggedTensor:
        """Piece strings of ids, any shape, in-graph ("▁" marks a space, "<0x0A>" a byte)."""
        return tf.gather(self._tokens, ids)

    # === Vocabulary ===
    @property
    def vocabulary(self) -> list[str]:
        return [token.decode("utf-8") for token in self._tokens.numpy().tolist()]

    @property
    def vocabulary_size(self) -> int:
        return self._vocabulary_size

    @property
    def end_id(self) -> int:
        return self._end_id

    @property
    def pad_id(self) -> int:
        return self._pad_id

    @property
    def unk_id(self) -> int:
        """Id of "<unk>", or -1 if the model has none."""
        return self._unk_id

    # === Config ===
    def get_config(self) -> dict:
        """`model` is the path given, or the proto bytes (not JSON: save them to a file)."""
        return {"model": self._config_model}


class MaskedSentencePieceTokenizer(SentencePieceTokenizer):
    """A SentencePiece (BPE) tokenizer for BERT-family encoders (RoBERTa's BPE option).

    The model carries "[CLS]", "[SEP]" and "[MASK]" as user-defined pieces (see
    `sentencepiece_vocab.MASKED_LM_SYMBOLS`), so packing, masking and fill-mask use the
    same special strings as WordPiece: "[MASK]" typed in a request is the mask token.
    Having `cls_id` is what makes the shared packing (`encode_texts`) build
    `[CLS] a [SEP] (b [SEP])` instead of a GPT's `a <end>`.

    `is_continuation` marks pieces that do not start a word (no leading "▁" and not
    a newline or special piece), for whole-word masking.

    A space before "[MASK]" belongs to the mask, as RoBERTa's `<mask>` strips it: the
    masked word was one piece such as "▁paris", so "is [MASK]." must not leave a lone
    "▁" piece in front of the mask.

    `lower_case`: lower-case and strip accents (NFKD, combining marks removed) and read
    `` and '' as ", before the model: ALBERT's preprocessing (Hugging Face's
    `AlbertTokenizer` with `do_lower_case`, `keep_accents=False`). Off for the lossless
    models trained here.
    """

    def __init__(self, model: bytes | str, lower_case: bool = False):
        super().__init__(model, require_end=False)
        self.lower_case = lower_case
        missing = [piece for piece in (CLS, SEP, MASK) if piece not in self._ids]
        if missing:
            raise ValueError(f"The SentencePiece model has no {missing} pieces (not an MLM model)")
        starts_word = lambda t: t.startswith("\u2581") or t == "\n" or t in (CLS, SEP, MASK)  # noqa: E731
        with tf.init_scope():
            self.is_continuation = tf.constant([not starts_word(t) for t in self.vocabulary])

    def _tokenize_batch(self, strings: tf.Tensor) -> tf.RaggedTensor:
        if self.lower_case:
            strings = nul_as_replacement(strings)  # before tf.strings.lower
            strings = tf.strings.regex_replace(strings, "``|''", '"')
            strings = text.normalize_utf8(strings, "NFKD")
            strings = tf.strings.regex_replace(strings, r"\p{Mn}", "")
            # lower-cases the text, and so "[MASK]": back to the mask
            strings = tf.strings.regex_replace(
                tf.strings.lower(strings, encoding="utf-8"), re.escape(MASK.lower()), MASK
            )
        strings = tf.strings.regex_replace(strings, " " + re.escape(MASK), MASK)
        return super()._tokenize_batch(strings)

    @property
    def cls_id(self) -> int:
        return self._ids[CLS]

    @property
    def sep_id(self) -> int:
        return self._ids[SEP]

    @property
    def mask_id(self) -> int:
        return self._ids[MASK]


def has_masked_lm_pieces(model: bytes | str) -> bool:
    """Whether a SentencePiece model was trained for an encoder (has "[MASK]")."""
    return MASK in SentencePieceTokenizer(model, require_end=False)._ids

"""In-graph WordPiece tokenizer (BERT), built on `tensorflow_text.FastBertTokenizer`."""

import re

import tensorflow as tf
import tensorflow_text as text

from bertgpt_tf.tokenizers.special_tokens import CLS, MASK, PAD, SEP, SPECIAL_TOKENS, UNK
from bertgpt_tf.tokenizers.text_tokenizer import TextTokenizer
from bertgpt_tf.tokenizers.wordpiece_vocab import (
    CONTINUATION_PREFIX,
    MAX_BYTES_PER_WORD,
    read_vocabulary,
)


class WordPieceTokenizer(TextTokenizer):
    """BERT WordPiece tokenizer made only of TF ops: runs eagerly, in `tf.data` and in a SavedModel.

    Strings are normalized (lower-case, NFD, accents stripped when `lower_case`; control
    characters become spaces), split on whitespace, on punctuation and around every CJK
    character, then each word is cut into the longest vocabulary pieces ("##" marks a
    piece that continues a word). The normalizer and word splitter are TF-Text's own
    FastBertTokenizer kernels, the same ones `wordpiece_vocab.split_words` runs when the
    vocabulary is trained, so training-time and tokenization-time words are identical.

    Unknown input never crashes the tokenizer: invalid UTF-8 bytes are kept inside their
    word and that word becomes `[UNK]`; NUL and other control bytes act as spaces; words
    longer than 100 bytes become `[UNK]`; an empty string gives zero tokens.

    The vocabulary and the tokenizer model are constants of the graph, so a SavedModel
    holding this module reloads with only `tensorflow` and `tensorflow_text` imported.
    When `vocabulary` is a file path it is also tracked as a `tf.saved_model.Asset`, so
    the file is copied to the SavedModel's `assets/` folder.

    Args:
        vocabulary: list of tokens, or path of a vocabulary file (one token per line).
            It must contain the special tokens `[PAD]`, `[UNK]`, `[CLS]`, `[SEP]`, `[MASK]`.
        lower_case: lower-case, NFD-normalize and strip accents before splitting.
        special_tokens_in_strings: keep literal special tokens such as "[MASK]" found in the
            input strings as their single id (split and re-joined in-graph). Off by default:
            training text does not need it and it costs a regex split.
        normalization: with `lower_case`, how text is normalized before splitting.
            "fast_bert": TF-Text's normalizer (NFKC case folding: "ß" -> "ss", full-width
            "，" -> ","), what the vocabularies trained here saw. "bert": the original
            BERT's and Hugging Face's `BertNormalizer` (NFD, combining marks removed,
            Unicode lower case; "ß" and "，" kept), for imported vocabularies, which hold
            those pieces: it gives the same ids as HF `tokenizers` on their
            `tokenizer.json` (a test pins that on real text).

    Example:
    >>> vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "s", "##s", "."]
    >>> tokenizer = WordPieceTokenizer(vocab, special_tokens_in_strings=True)
    >>> tokenizer.tokenize(tf.constant(["The cats [MASK]."])).to_list()
    [[5, 6, 8, 4, 9]]
    >>> tokenizer.detokenize(tf.ragged.constant([[5, 6, 8]])).numpy()
    array([b'the cats'], dtype=object)
    """

    def __init__(
        self,
        vocabulary: list[str] | str,
        lower_case: bool = True,
        special_tokens_in_strings: bool = False,
        normalization: str = "fast_bert",
    ):
        super().__init__(name="wordpiece_tokenizer")
        if normalization not in ("fast_bert", "bert"):
            raise ValueError(f"normalization must be fast_bert|bert, got {normalization!r}")
        self.normalization = normalization
        self._config_vocabulary = vocabulary if isinstance(vocabulary, str) else list(vocabulary)
        self.lower_case = lower_case
        self.special_tokens_in_strings = special_tokens_in_strings
        if isinstance(vocabulary, str):
            self.vocabulary_file = tf.saved_model.Asset(vocabulary)
            vocabulary = read_vocabulary(vocabulary)
        vocabulary = list(vocabulary)
        token_to_id = {}
        for index, token in enumerate(vocabulary):
            token_to_id.setdefault(token, index)
        missing = [token for token in SPECIAL_TOKENS if token not in token_to_id]
        if missing:
            raise ValueError(f"The vocabulary lacks the special tokens {missing}.")
        # Filled before assignment: tf.Module wraps lists and dicts and refuses to save
        # ones mutated afterwards.
        self._vocabulary, self._token_to_id = vocabulary, token_to_id

        with tf.init_scope():  # constants stay eager even if built while tracing
            self._tokenizer = text.FastBertTokenizer(
                vocab=self._vocabulary,
                suffix_indicator=CONTINUATION_PREFIX,
                max_bytes_per_word=MAX_BYTES_PER_WORD,
                token_out_type=tf.int32,
                unknown_token=UNK,
                lower_case_nfd_strip_accents=lower_case and normalization == "fast_bert",
            )
            self._tokens = tf.constant(self._vocabulary, tf.string)
            self.is_continuation = tf.constant([_is_continuation(t) for t in self._vocabulary])
            # What each id adds to a detokenized string: " word" or the bare continuation.
            self._detokenized_pieces = tf.constant(
                [t[2:] if _is_continuation(t) else " " + t for t in self._vocabulary]
            )
            self._special_literals = tf.constant(SPECIAL_TOKENS)
            self._special_ids = tf.constant([self._token_to_id[t] for t in SPECIAL_TOKENS])
        self._special_pattern = "|".join(re.escape(token) for token in SPECIAL_TOKENS)

    # === Tokenize ===
    def _tokenize_batch(self, strings: tf.Tensor) -> tf.RaggedTensor:
        if self.special_tokens_in_strings:
            return self._tokenize_keeping_special_literals(strings)
        return self._wordpieces(strings)  # (batch, tokens)

    def _wordpieces(self, strings: tf.Tensor) -> tf.RaggedTensor:
        if self.normalization == "bert":
            # BertNormalizer's clean_text: control and format characters (NUL, ZWJ,
            # U+FFFD, ...) are removed, not spaces; tab, newline and return are spaces.
            strings = tf.strings.regex_replace(strings, _BERT_REMOVED, "")
            if self.lower_case:  # then strip accents (NFD, drop marks), then lower-case
                strings = text.normalize_utf8(strings, "NFD")
                strings = tf.strings.regex_replace(strings, r"\p{Mn}", "")
                strings = tf.strings.lower(strings, encoding="utf-8")
        else:  # the TF-Text kernel stops reading a string at a NUL byte
            strings = tf.strings.regex_replace(strings, r"\x00", " ")
        return self._tokenizer.tokenize(strings)

    def tokenize_words(self, strings: tf.Tensor) -> tf.RaggedTensor:
        """Token ids grouped by word: (batch,) -> (batch, words, pieces) ragged int32.

        A word is a piece that is not a "##" continuation plus the continuations after
        it (whole-word masking masks these groups). A scalar gives (words, pieces).
        """
        strings = tf.convert_to_tensor(strings, tf.string)
        if strings.shape.rank == 0:
            return self.tokenize_words(strings[tf.newaxis])[0]
        return group_words(self.tokenize(strings), self.is_continuation)

    def _tokenize_keeping_special_literals(self, strings: tf.Tensor) -> tf.RaggedTensor:
        """Splits on the literal special tokens, tokenizes the rest, re-joins their ids."""
        # regex_split drops everything after a NUL byte; the normalizer makes NUL a space anyway.
        strings = tf.strings.regex_replace(strings, r"\x00", " ")
        pattern = self._special_pattern
        segments = text.regex_split(strings, pattern, pattern)  # (batch, segments)
        flat = segments.flat_values
        matches = tf.equal(flat[:, tf.newaxis], self._special_literals)  # (segments, specials)
        is_special = tf.reduce_any(matches, axis=1)
        special_ids = tf.gather(self._special_ids, tf.argmax(tf.cast(matches, tf.int32), axis=1))
        # Each segment yields either its text pieces or its one special id.
        pieces = self._wordpieces(tf.where(is_special, "", flat))  # (segments, tokens)
        specials = tf.RaggedTensor.from_row_lengths(
            tf.boolean_mask(special_ids, is_special), tf.cast(is_special, tf.int64)
        )
        pieces = tf.concat([pieces, specials], axis=1)
        return tf.RaggedTensor.from_row_splits(pieces, segments.row_splits).merge_dims(1, 2)

    # === Detokenize ===
    def _detokenize_batch(self, ids: tf.RaggedTensor) -> tf.Tensor:
        """Words joined by single spaces, "##" pieces glued to the piece before; padding
        ids come out as "[PAD]"."""
        pieces = tf.gather(self._detokenized_pieces, ids)  # (batch, tokens)
        return tf.strings.strip(tf.strings.reduce_join(pieces, axis=-1))

    def id_to_token(self, ids: tf.Tensor | tf.RaggedTensor) -> tf.Tensor | tf.RaggedTensor:
        """Token strings of ids, any shape, in-graph."""
        return tf.gather(self._tokens, ids)

    def token_to_id(self, token: str) -> int:
        """Id of a token string (Python side); raises KeyError if not in the vocabulary."""
        if token not in self._token_to_id:
            raise KeyError(f"Token {token!r} is not in the vocabulary.")
        return self._token_to_id[token]

    # === Vocabulary ===
    @property
    def vocabulary(self) -> list[str]:
        return list(self._vocabulary)

    @property
    def vocabulary_size(self) -> int:
        return len(self._vocabulary)

    @property
    def pad_id(self) -> int:
        return self._token_to_id[PAD]

    @property
    def unk_id(self) -> int:
        return self._token_to_id[UNK]

    @property
    def cls_id(self) -> int:
        return self._token_to_id[CLS]

    @property
    def sep_id(self) -> int:
        return self._token_to_id[SEP]

    @property
    def mask_id(self) -> int:
        return self._token_to_id[MASK]

    # === Config ===
    def get_config(self) -> dict:
        vocabulary = self._config_vocabulary
        return {
            "vocabulary": vocabulary if isinstance(vocabulary, str) else list(vocabulary),
            "lower_case": self.lower_case,
            "special_tokens_in_strings": self.special_tokens_in_strings,
            "normalization": self.normalization,
        }


# What `BertNormalizer(clean_text=True)` deletes: control characters but tab, newline and
# return (C0, DEL, C1), format characters (ZWJ, ZWSP, ...), private use, U+FFFD.
_BERT_REMOVED = r"[\x{0}-\x{8}\x{B}\x{C}\x{E}-\x{1F}\x{7F}-\x{9F}\p{Cf}\p{Co}\x{FFFD}]"


def _is_continuation(token: str) -> bool:
    return token.startswith(CONTINUATION_PREFIX) and len(token) > len(CONTINUATION_PREFIX)


def group_words(
    token_ids: tf.RaggedTensor,
    is_continuation: tf.Tensor,
    special_ids: tuple[int, ...] = (),
) -> tf.RaggedTensor:
    """(batch, tokens) -> (batch, words, pieces): a word starts at every non-"##" piece,
    at every row start, and after any of `special_ids` (so a stray "##" piece after
    [SEP] does not join the [SEP] "word"). Whole-word masking masks these groups.
    """
    flat = token_ids.flat_values
    row_ids = token_ids.value_rowids()
    position = tf.range(tf.size(flat, out_type=tf.int64)) - tf.gather(
        token_ids.row_starts(), row_ids
    )
    previous = tf.roll(flat, 1, axis=0)
    after_special = tf.reduce_any(tf.equal(previous[:, None], list(special_ids)), axis=1)
    starts = tf.logical_not(tf.gather(is_continuation, flat)) | after_special | (position == 0)
    words = tf.RaggedTensor.from_row_starts(flat, tf.where(starts)[:, 0], validate=False)
    words_per_row = tf.math.unsorted_segment_sum(
        tf.cast(starts, tf.int64), row_ids, token_ids.nrows()
    )
    return tf.RaggedTensor.from_row_lengths(words, words_per_row, validate=False)

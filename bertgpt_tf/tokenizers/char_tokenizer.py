"""In-graph character tokenizer for character-level LMs (nanoGPT's shakespeare_char)."""

import json
from collections.abc import Iterable

import tensorflow as tf

from bertgpt_tf.atomic_file import write_text
from bertgpt_tf.tokenizers.special_tokens import GPT_SPECIAL_TOKENS, UNK_SURFACE
from bertgpt_tf.tokenizers.text_tokenizer import TextTokenizer

REPLACEMENT_CODEPOINT = ord(UNK_SURFACE)


class CharTokenizer(TextTokenizer):
    """Unicode characters to ids and back, made only of TF ops (eager, `tf.data`, SavedModel).

    Character `vocabulary[i]` has id `i`, so with `build_char_vocabulary` (sorted
    characters) the ids are nanoGPT's `stoi`. Three special ids follow the characters:
    `pad_id = n`, `unk_id = n + 1`, `end_id = n + 2` ("<pad>", "<unk>", "<|endoftext|>",
    n = len(vocabulary)), so `vocabulary_size == n + 3`.

    Text made of vocabulary characters round-trips exactly. A character outside the
    vocabulary becomes `unk_id` and detokenizes to U+FFFD; invalid UTF-8 bytes are read
    as U+FFFD (one per invalid sequence), hence `unk_id` unless U+FFFD is in the
    vocabulary; an empty string gives zero tokens. `detokenize` drops the pad and end
    ids and ids outside [0, vocabulary_size).

    In-graph, strings are decoded to code points (`tf.strings.unicode_decode`) and looked
    up by binary search in the sorted code points of the vocabulary (`tf.searchsorted`):
    plain constants, so a SavedModel reloads with `tensorflow` alone. When `vocabulary`
    is a file path it is also tracked as a `tf.saved_model.Asset`.

    Args:
        vocabulary: list of distinct single characters, or the path of a JSON list
            written by `write_char_vocabulary`.

    Example:
    >>> tokenizer = CharTokenizer(build_char_vocabulary("hello world\\n"))
    >>> tokenizer.tokenize(tf.constant(["hello\\n", "low!"])).to_list()
    [[4, 3, 5, 5, 6, 0], [5, 6, 8, 10]]
    >>> tokenizer.detokenize(tf.ragged.constant([[4, 3, 5, 5, 6, 0], [5, 6, 8, 10]])).numpy()
    array([b'hello\\n', b'low\\xef\\xbf\\xbd'], dtype=object)
    """

    def __init__(self, vocabulary: list[str] | str):
        super().__init__(name="char_tokenizer")
        self._config_vocabulary = vocabulary if isinstance(vocabulary, str) else list(vocabulary)
        if isinstance(vocabulary, str):
            self.vocabulary_file = tf.saved_model.Asset(vocabulary)
            vocabulary = read_char_vocabulary(vocabulary)
        vocabulary = list(vocabulary)
        _check_characters(vocabulary)
        self._vocabulary = vocabulary  # filled before assignment: tf.Module wraps lists
        n = len(vocabulary)
        self._pad_id, self._unk_id, self._end_id = n, n + 1, n + 2
        codepoints = [ord(char) for char in vocabulary]
        order = sorted(range(n), key=codepoints.__getitem__)
        with tf.init_scope():  # constants stay eager even if built while tracing
            self._sorted_codepoints = tf.constant([codepoints[i] for i in order], tf.int32)
            self._sorted_ids = tf.constant(order, tf.int32)
            # Code point of each id; -1 (dropped) for pad and end.
            self._id_to_codepoint = tf.constant(
                codepoints + [-1, REPLACEMENT_CODEPOINT, -1], tf.int32
            )

    # === Tokenize ===
    def _tokenize_batch(self, strings: tf.Tensor) -> tf.RaggedTensor:
        codepoints = tf.strings.unicode_decode(
            strings, "UTF-8", errors="replace", replacement_char=REPLACEMENT_CODEPOINT
        )  # (batch, chars)
        flat = codepoints.flat_values
        # Position of each code point in the sorted table, clipped for ones past its end.
        index = tf.searchsorted(self._sorted_codepoints, flat, out_type=tf.int32)
        index = tf.minimum(index, tf.size(self._sorted_codepoints) - 1)
        known = tf.gather(self._sorted_codepoints, index) == flat
        ids = tf.where(known, tf.gather(self._sorted_ids, index), self._unk_id)
        return codepoints.with_flat_values(ids)

    # === Detokenize ===
    def _detokenize_batch(self, ids: tf.RaggedTensor) -> tf.Tensor:
        in_range = (ids >= 0) & (ids < self.vocabulary_size)
        codepoints = tf.gather(self._id_to_codepoint, tf.ragged.boolean_mask(ids, in_range))
        codepoints = tf.ragged.boolean_mask(codepoints, codepoints >= 0)  # (batch, chars)
        return tf.strings.unicode_encode(codepoints, "UTF-8")

    # === Vocabulary ===
    @property
    def vocabulary(self) -> list[str]:
        """The characters then the special tokens: the token of each id."""
        return list(self._vocabulary) + list(GPT_SPECIAL_TOKENS)

    @property
    def vocabulary_size(self) -> int:
        return len(self._vocabulary) + len(GPT_SPECIAL_TOKENS)

    @property
    def pad_id(self) -> int:
        return self._pad_id

    @property
    def unk_id(self) -> int:
        return self._unk_id

    @property
    def end_id(self) -> int:
        return self._end_id

    # === Config ===
    def get_config(self) -> dict:
        vocabulary = self._config_vocabulary
        return {"vocabulary": vocabulary if isinstance(vocabulary, str) else list(vocabulary)}


def _check_characters(vocabulary: list[str]) -> None:
    bad = [char for char in vocabulary if not isinstance(char, str) or len(char) != 1]
    if bad:
        raise ValueError(f"Each vocabulary entry must be one character, got {bad[:5]}.")
    if len(set(vocabulary)) != len(vocabulary):
        raise ValueError("The vocabulary has repeated characters.")
    if not vocabulary:
        raise ValueError("The vocabulary is empty.")


def build_char_vocabulary(text: str | Iterable[str]) -> list[str]:
    """The sorted distinct characters (code points) of a string or of lines.

    Example:
    >>> build_char_vocabulary("hello world\\n")
    ['\\n', ' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']
    """
    if isinstance(text, str):
        return sorted(set(text))
    chars = set()
    for line in text:
        chars.update(line)
    return sorted(chars)


def write_char_vocabulary(path: str, vocabulary: list[str]) -> None:
    """Writes the characters as a JSON list (safe for "\\n", "\\r" and other whitespace)."""
    _check_characters(list(vocabulary))
    write_text(path, json.dumps(list(vocabulary), ensure_ascii=True))  # write-then-rename


def read_char_vocabulary(path: str) -> list[str]:
    """Reads a vocabulary written by `write_char_vocabulary`."""
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"Character vocabulary file not found: {path}")
    with tf.io.gfile.GFile(path, "r") as file:
        vocabulary = json.loads(file.read())
    if not isinstance(vocabulary, list):
        raise ValueError(f"Expected a JSON list of characters in {path}.")
    _check_characters(vocabulary)
    return vocabulary

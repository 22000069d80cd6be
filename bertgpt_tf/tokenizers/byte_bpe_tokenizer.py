"""In-graph byte-level BPE (GPT-2's and RoBERTa's tokenizer), on keras-hub's TF ops.

The BPE itself is `keras_hub.tokenizers.BytePairTokenizer`'s graph path (TF-Text regex
split, static lookup tables, a `tf.while_loop` of merges, a hash-table cache of merged
words): made only of TF and TF-Text ops, so it runs in `tf.data` and in a SavedModel
that TF Serving loads. This module adds what the rest of the project expects of a
tokenizer (`TextTokenizer`'s shapes, the special ids, lossless `detokenize`, "[MASK]"
typed in a request) and reads Hugging Face's `vocab.json` + `merges.txt`.
"""

import json
import os

import keras_hub
import tensorflow as tf
from keras_hub.src.utils.tensor_utils import no_convert_scope

from bertgpt_tf.tokenizers.special_tokens import END_OF_TEXT
from bertgpt_tf.tokenizers.text_tokenizer import TextTokenizer, nul_as_replacement

# RoBERTa's special tokens (fairseq's dictionary order: <s>=0, <pad>=1, </s>=2, <unk>=3).
ROBERTA_SPECIAL = {"cls": "<s>", "pad": "<pad>", "sep": "</s>", "unk": "<unk>", "mask": "<mask>"}
MERGES_FILE = "merges.txt"


def merges_path(vocabulary_file: str) -> str:
    """The `merges.txt` that goes with a `vocab.json`: the file beside it."""
    return os.path.join(os.path.dirname(vocabulary_file), MERGES_FILE)


class ByteBPETokenizer(TextTokenizer):
    """GPT-2 / RoBERTa byte-level BPE made only of TF ops (eager, `tf.data`, SavedModel).

    Every byte has a token, so nothing is unknown and `detokenize(tokenize(s)) == s`
    for valid UTF-8 without NUL; ids that do not make whole characters detokenize to
    U+FFFD. NUL becomes U+FFFD before tokenizing: TF-Text's `regex_split` (inside
    keras-hub's pre-split) cuts a string at NUL, which would lose the rest of it. Two kinds, told apart by the vocabulary:
    - an encoder's (RoBERTa: it has "<mask>"): `cls_id` "<s>", `sep_id` "</s>",
      `pad_id` "<pad>", `mask_id` "<mask>", so the shared packing builds
      `<s> a </s> (b </s>)`; "[MASK]" or "<mask>" typed in a string is the mask token,
      taking the space before it as RoBERTa's does (lstrip).
    - a decoder's (GPT-2): `end_id` "<|endoftext|>", also the padding id.

    Args:
        vocabulary: path of a `vocab.json` ({token: id}, GPT-2's byte-to-unicode
            alphabet); `merges.txt` is read from the same folder unless `merges` is given.
        merges: path of the merges file.

    Example:
    >>> tokenizer = ByteBPETokenizer("runs/roberta/vocab.json")  # doctest: +SKIP
    >>> tokenizer.detokenize(tokenizer.tokenize(["Héllo 🙂"])).numpy()  # doctest: +SKIP
    array([b'H\\xc3\\xa9llo \\xf0\\x9f\\x99\\x82'], dtype=object)
    """

    is_encoder = False

    def __init__(self, vocabulary: str, merges: str | None = None):
        super().__init__(name="byte_bpe_tokenizer")
        merges = merges or merges_path(vocabulary)
        self._config_vocabulary, self._config_merges = vocabulary, merges
        self.vocabulary_file = tf.saved_model.Asset(vocabulary)
        self.merges_file = tf.saved_model.Asset(merges)
        with open(vocabulary, encoding="utf-8") as f:
            token_to_id = json.load(f)
        size = max(token_to_id.values()) + 1
        tokens = [""] * size
        for token, index in token_to_id.items():
            tokens[index] = token
        self._token_to_id = dict(token_to_id)
        special = ROBERTA_SPECIAL if self.is_encoder else {"end": END_OF_TEXT}
        missing = [t for t in special.values() if t not in token_to_id]
        if missing:
            raise ValueError(f"{vocabulary}: the vocabulary lacks the special tokens {missing}")
        self._special = {role: token_to_id[token] for role, token in special.items()}
        with tf.init_scope():  # tables and constants stay eager even if built while tracing
            self._bpe = keras_hub.tokenizers.BytePairTokenizer(
                vocabulary=vocabulary,
                merges=merges,
                unsplittable_tokens=[ROBERTA_SPECIAL["mask"]] if self.is_encoder else [],
                dtype="int32",
                _allow_python_workflow=False,  # the TF-ops path, eager too (not Rust)
            )
            self._tokens = tf.constant(tokens)
            specials = set(self._special.values()) - {self._special.get("mask")}
            # What detokenize keeps: real tokens, not padding, <s>, </s>, end of text.
            self._detokenized = tf.constant([i not in specials for i in range(size)])
            starts_word = lambda t: t.startswith("\u0120") or t.startswith("\u010a")  # noqa: E731
            self.is_continuation = tf.constant(
                [not starts_word(t) and i not in specials for i, t in enumerate(tokens)]
            )
        self._vocabulary_size = size

    # === Tokenize / detokenize ===
    def _tokenize_batch(self, strings: tf.Tensor) -> tf.RaggedTensor:
        strings = nul_as_replacement(strings)
        if self.is_encoder:
            strings = tf.strings.regex_replace(strings, r" ?(\[MASK\]|<mask>)", "<mask>")
        with no_convert_scope():  # keep tf.RaggedTensor (keras-hub returns lists eagerly)
            return tf.cast(self._bpe.tokenize(strings), tf.int32)

    def _detokenize_batch(self, ids: tf.RaggedTensor) -> tf.Tensor:
        in_range = (ids >= 0) & (ids < self._vocabulary_size)
        ids = tf.ragged.boolean_mask(ids, in_range)
        ids = tf.ragged.boolean_mask(ids, tf.gather(self._detokenized, ids))
        with no_convert_scope():
            strings = self._bpe.detokenize(ids)
        # Byte tokens can cut a character (a sampled continuation, a truncated row):
        # invalid UTF-8 becomes U+FFFD, as Hugging Face's decode does, so every answer
        # is valid UTF-8 (a JSON string in a REST response).
        return tf.strings.unicode_transcode(
            strings, "UTF-8", "UTF-8", errors="replace", replacement_char=0xFFFD
        )

    def id_to_token(self, ids: tf.Tensor | tf.RaggedTensor) -> tf.Tensor | tf.RaggedTensor:
        """Token strings of ids, any shape ("Ġ" marks a space, "Ċ" a newline)."""
        return tf.gather(self._tokens, ids)

    def token_to_id(self, token: str) -> int:
        return self._token_to_id[token]

    # === Vocabulary ===
    @property
    def vocabulary(self) -> list[str]:
        return [t.decode("utf-8") for t in self._tokens.numpy().tolist()]

    @property
    def vocabulary_size(self) -> int:
        return self._vocabulary_size

    @property
    def pad_id(self) -> int:
        return self._special.get("pad", self._special.get("end"))

    @property
    def unk_id(self) -> int:
        """RoBERTa's "<unk>" (never produced: every byte has a token), or -1."""
        return self._special.get("unk", -1)

    def get_config(self) -> dict:
        return {"vocabulary": self._config_vocabulary, "merges": self._config_merges}


class GPT2Tokenizer(ByteBPETokenizer):
    """GPT-2's byte-level BPE: "<|endoftext|>" ends documents and pads."""

    @property
    def end_id(self) -> int:
        return self._special["end"]


class RobertaTokenizer(ByteBPETokenizer):
    """RoBERTa's byte-level BPE, for an encoder: `<s> a </s> (b </s>)` packing, "<mask>"."""

    is_encoder = True
    # Words tokenized one by one (NER) read as in running text: "Ġword".
    word_prefix = " "

    @property
    def cls_id(self) -> int:
        return self._special["cls"]

    @property
    def sep_id(self) -> int:
        return self._special["sep"]

    @property
    def mask_id(self) -> int:
        return self._special["mask"]


def load_byte_bpe(vocabulary: str, merges: str | None = None) -> ByteBPETokenizer:
    """`RobertaTokenizer` when the vocabulary has "<mask>", else `GPT2Tokenizer`."""
    with open(vocabulary, encoding="utf-8") as f:
        encoder = ROBERTA_SPECIAL["mask"] in json.load(f)
    return (RobertaTokenizer if encoder else GPT2Tokenizer)(vocabulary, merges)

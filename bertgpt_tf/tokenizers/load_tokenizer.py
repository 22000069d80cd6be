"""The tokenizer of a run, from its kind and its vocabulary/model file."""

import os

from bertgpt_tf.tokenizers.byte_bpe_tokenizer import load_byte_bpe
from bertgpt_tf.tokenizers.char_tokenizer import CharTokenizer
from bertgpt_tf.tokenizers.sentencepiece_tokenizer import (
    MaskedSentencePieceTokenizer,
    SentencePieceTokenizer,
    has_masked_lm_pieces,
)
from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer

# What each kind stores in the run directory.
VOCABULARY_FILES = {
    "wordpiece": "vocab.txt",
    "bpe": "spm_bpe.model",
    "sentencepiece": "spm_unigram.model",
    "char": "chars.json",
    "byte_bpe": "vocab.json",  # and merges.txt beside it (imported GPT-2 / RoBERTa)
}


def load_tokenizer(
    kind: str,
    path: str,
    lower_case: bool = True,
    special_tokens_in_strings: bool = False,
    normalization: str = "fast_bert",
):
    """`WordPieceTokenizer` (BERT), `SentencePieceTokenizer` (bpe/sentencepiece, GPT;
    `MaskedSentencePieceTokenizer` when the model has "[MASK]": a BPE encoder) or
    `CharTokenizer` (char, GPT) or `GPT2Tokenizer` / `RobertaTokenizer` (byte_bpe,
    imported checkpoints). `lower_case`, `special_tokens_in_strings` and
    `normalization` apply to WordPiece, and `lower_case` with normalization "bert" (an
    imported ALBERT's preprocessing) to an encoder's SentencePiece; the GPT tokenizers
    and those trained here are lossless and case-preserving."""
    if kind == "wordpiece":
        return WordPieceTokenizer(path, lower_case, special_tokens_in_strings, normalization)
    if kind in ("bpe", "sentencepiece"):
        if has_masked_lm_pieces(path):  # lower-cased only as imported ALBERTs are
            return MaskedSentencePieceTokenizer(path, lower_case and normalization == "bert")
        return SentencePieceTokenizer(path)
    if kind == "char":
        return CharTokenizer(path)
    if kind == "byte_bpe":
        return load_byte_bpe(path)
    raise ValueError(f"Unknown tokenizer {kind!r}; choose from {sorted(VOCABULARY_FILES)}")


def load_tokenizer_pair(kind: str, source_path: str, target_path: str = "") -> tuple:
    """(source, target) tokenizers of a translation run: the same object when the
    vocabulary is shared (`target_path` empty or equal to `source_path`)."""
    source = load_tokenizer(kind, source_path)
    if not target_path or os.path.abspath(target_path) == os.path.abspath(source_path):
        return source, source
    return source, load_tokenizer(kind, target_path)

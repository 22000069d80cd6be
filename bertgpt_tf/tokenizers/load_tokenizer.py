"""The tokenizer of a run, from its kind and its vocabulary/model file."""

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
}


def load_tokenizer(
    kind: str, path: str, lower_case: bool = True, special_tokens_in_strings: bool = False
):
    """`WordPieceTokenizer` (BERT), `SentencePieceTokenizer` (bpe/sentencepiece, GPT;
    `MaskedSentencePieceTokenizer` when the model has "[MASK]": a BPE encoder) or
    `CharTokenizer` (char, GPT). `lower_case` and `special_tokens_in_strings` apply to
    WordPiece only: the GPT tokenizers are lossless and case-preserving."""
    if kind == "wordpiece":
        return WordPieceTokenizer(path, lower_case, special_tokens_in_strings)
    if kind in ("bpe", "sentencepiece"):
        if has_masked_lm_pieces(path):
            return MaskedSentencePieceTokenizer(path)
        return SentencePieceTokenizer(path)
    if kind == "char":
        return CharTokenizer(path)
    raise ValueError(f"Unknown tokenizer {kind!r}; choose from {sorted(VOCABULARY_FILES)}")

"""Training a lossless SentencePiece model (BPE or unigram) for `SentencePieceTokenizer`.

The `sentencepiece` package trains from a Python iterator over the lines (no corpus file
is written) and returns the serialized model proto. The options make the model lossless,
`detokenize(tokenize(s)) == s` for every valid UTF-8 string:

- `normalization_rule_name="identity"`: no NFKC, so "ﬁ", full-width "！" and tabs stay as
  they are (the default rule rewrites them, and turns "\\n" into a space).
- `remove_extra_whitespaces=False`: runs of spaces, leading and trailing spaces are kept.
- `add_dummy_prefix=False`: no space is invented before the text, so the tokens of
  "a" + "b" are those of "a" followed by those of "b" at a word boundary (GPT-2-like).
- `byte_fallback=True`: a character outside the vocabulary becomes its UTF-8 bytes
  (pieces "<0x00>" ... "<0xFF>", always in the vocabulary) instead of <unk>.
- "\\n" is a user-defined symbol: a newline is always its own token and pieces never
  straddle lines. Without it a newline is learned only when the training lines contain
  one (pieces such as "!\\n" or "\\n\\nThe"), else it falls back to the byte <0x0A>.
- `split_digits=True`: each digit is its own token, as in LLaMA.
- `allow_whitespace_only_pieces=True`: runs of spaces (code indentation) can be one piece.

Ids 0, 1, 2 are `<pad>`, `<unk>` and `<|endoftext|>`, all control symbols: the text
"<|endoftext|>" inside a document is tokenized as ordinary text, never as the end id, and
all three detokenize to "" (`<unk>` to U+FFFD, which byte fallback never produces).
"""

import io
import os
import time
from collections.abc import Iterable, Iterator

import sentencepiece
import tensorflow as tf

from bertgpt_tf.atomic_file import write_text
from bertgpt_tf.tokenizers.special_tokens import (
    CLS,
    END_OF_TEXT,
    MASK,
    PAD_PIECE,
    SEP,
    UNK_PIECE,
    UNK_SURFACE,
)

MODEL_TYPES = ("bpe", "unigram")
# SentencePiece skips training sentences longer than this; longer lines are cut up first.
MAX_SENTENCE_BYTES = 1 << 14
PROGRESS_SECONDS = 5.0

TRAINER_OPTIONS = {
    "byte_fallback": True,
    "normalization_rule_name": "identity",
    "remove_extra_whitespaces": False,
    "add_dummy_prefix": False,
    "split_digits": True,
    "allow_whitespace_only_pieces": True,
    "user_defined_symbols": ["\n"],
    "pad_id": 0,
    "unk_id": 1,
    "eos_id": 2,
    "bos_id": -1,  # GPT streams mark document ends only
    "pad_piece": PAD_PIECE,
    "unk_piece": UNK_PIECE,
    "eos_piece": END_OF_TEXT,
    "unk_surface": UNK_SURFACE,
    "max_sentence_length": MAX_SENTENCE_BYTES,
}


# Extra user-defined pieces of a model for a BERT-family encoder (RoBERTa's BPE option):
# BERT's spellings, so packing, masking and "[MASK]" in fill-mask requests work as with
# WordPiece. User-defined pieces are matched in raw text, so a typed "[MASK]" is the mask.
MASKED_LM_SYMBOLS = (CLS, SEP, MASK)


def train_sentencepiece(
    lines: Iterable[str] | tf.data.Dataset,
    vocabulary_size: int,
    model_type: str = "bpe",
    max_bytes: int | None = None,
    progress: bool = True,
    masked_lm: bool = False,
) -> bytes:
    """Trains a lossless SentencePiece model on text lines; returns the model proto.

    "bpe" is SentencePiece BPE with byte fallback: like GPT-2's byte-level BPE every
    string is covered (unseen characters become byte tokens), but merges are learned on
    characters, so a learned piece is always whole characters. "unigram" is the unigram
    language model of T5/ALBERT, with the same byte fallback.

    Args:
        lines: an iterable of strings, or a `tf.data.Dataset` of scalar strings (or of
            1-D batches of strings). A line may hold newlines; lines longer than
            `MAX_SENTENCE_BYTES` are cut at a newline or before a space.
        vocabulary_size: exact number of pieces: 3 special tokens, "\\n", 256 bytes, the
            characters of the text and learned pieces. SentencePiece raises an error
            naming the largest possible value when the text is too small.
        model_type: "bpe" or "unigram".
        max_bytes: read only about this many bytes (UTF-8) of text; None reads all.
        progress: print lines and megabytes read, and the training time.
        masked_lm: add `MASKED_LM_SYMBOLS` (ids 4, 5, 6) for an encoder's MLM.

    Example:
    >>> model = train_sentencepiece(["the cat sat on the mat"] * 10, 280, progress=False)
    >>> sentencepiece.SentencePieceProcessor(model_proto=model).encode("the cat", out_type=str)
    ['the', '▁cat']
    """
    if model_type not in MODEL_TYPES:
        raise ValueError(f"model_type must be one of {MODEL_TYPES}, got {model_type!r}.")
    started = time.monotonic()
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=_sentences(_text_lines(lines), max_bytes, progress, started),
        model_writer=model,
        model_type=model_type,
        vocab_size=vocabulary_size,
        num_threads=os.cpu_count() or 1,
        minloglevel=1 if progress else 2,  # 1: warnings only
        **{
            **TRAINER_OPTIONS,
            "user_defined_symbols": [
                *TRAINER_OPTIONS["user_defined_symbols"],
                *(MASKED_LM_SYMBOLS if masked_lm else ()),
            ],
        },
    )
    if progress:
        _report(f"trained {vocabulary_size:,} {model_type} pieces", started)
    return model.getvalue()


def _report(message: str, started: float) -> None:
    print(f"sentencepiece: {message} ({time.monotonic() - started:.1f} s)", flush=True)


def _text_lines(lines: Iterable[str] | tf.data.Dataset) -> Iterator[str]:
    """Python strings from an iterable or a dataset of scalar or 1-D string tensors."""
    if not isinstance(lines, tf.data.Dataset):
        yield from lines
        return
    if lines.element_spec.shape.rank == 1:
        lines = lines.unbatch()
    for line in lines.as_numpy_iterator():
        yield line.decode("utf-8", errors="replace")


def _sentences(
    lines: Iterable[str], max_bytes: int | None, progress: bool, started: float
) -> Iterator[str]:
    """Non-empty lines, long ones cut up, until about `max_bytes` bytes were read."""
    num_lines, num_bytes, last_report = 0, 0, started
    for line in lines:
        if not line:
            continue
        line_bytes = len(line.encode("utf-8"))
        num_lines, num_bytes = num_lines + 1, num_bytes + line_bytes
        if line_bytes > MAX_SENTENCE_BYTES:
            yield from _chunks(line, MAX_SENTENCE_BYTES // 4)  # UTF-8: <= 4 bytes a character
        else:
            yield line
        if progress and time.monotonic() - last_report > PROGRESS_SECONDS:
            last_report = time.monotonic()
            _report(f"read {num_lines:,} lines, {num_bytes / 1e6:.1f} MB", started)
        if max_bytes is not None and num_bytes >= max_bytes:
            break
    if progress:
        _report(f"read {num_lines:,} lines, {num_bytes / 1e6:.1f} MB; training", started)


def _chunks(line: str, max_chars: int) -> Iterator[str]:
    """Pieces of at most `max_chars` characters, cut after a newline or before a space."""
    while len(line) > max_chars:
        cut = max(line.rfind("\n", 0, max_chars) + 1, line.rfind(" ", 1, max_chars))
        cut = cut if cut > 0 else max_chars
        yield line[:cut]
        line = line[cut:]
    if line:
        yield line


def write_sentencepiece_model(path: str, model: bytes) -> None:
    """Writes a model proto (by convention to a ".model" file), write-then-rename."""
    write_text(path, model)


def read_sentencepiece_model(path: str) -> bytes:
    """Reads a model proto written by `write_sentencepiece_model` (or `spm_train`)."""
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"SentencePiece model not found: {path}")
    with tf.io.gfile.GFile(path, "rb") as file:
        return file.read()

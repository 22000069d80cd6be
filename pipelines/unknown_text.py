"""How much of a fine-tuning run's text its vocabulary cannot spell: the share of
`[UNK]` pieces, logged before training; a run above `--max_unknown_share` is refused
(an English vocabulary reads 79 % of ChnSentiCorp's Chinese as `[UNK]`, and the model
trained on that only learns the majority class)."""

import collections

import tensorflow as tf
from absl import logging

SAMPLE_TEXTS = 2000  # evenly spaced over the training texts


def unknown_share(tokenizer, texts: list[str], batch_size: int = 256) -> tuple[float, int]:
    """(share of `tokenizer.unk_id` among the pieces of `texts`, number of pieces); 0 for
    a tokenizer without an unknown piece (byte-fallback BPE).

    >>> from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer
    >>> tokenizer = WordPieceTokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "good"])
    >>> unknown_share(tokenizer, ["good 好", "很好"])
    (0.75, 4)
    """
    if tokenizer.unk_id < 0:
        return 0.0, 0
    unknown = pieces = 0
    for start in range(0, len(texts), batch_size):
        ids = tokenizer.tokenize(tf.constant(texts[start : start + batch_size])).flat_values
        unknown += int(tf.reduce_sum(tf.cast(ids == tokenizer.unk_id, tf.int64)))
        pieces += int(tf.size(ids))
    return unknown / max(pieces, 1), pieces


def unknown_examples(tokenizer, texts: list[str], count: int = 10) -> list[str]:
    """The most frequent characters of `texts` that alone are `[UNK]`; when none is
    (words too long for the tokenizer), the most frequent such words."""
    for split in (lambda text: [c for c in text if not c.isspace()], str.split):
        frequency = collections.Counter(unit for text in texts for unit in split(text))
        units = sorted(frequency, key=frequency.get, reverse=True)
        if not units:
            continue
        ids = tokenizer.tokenize(tf.constant(units)).to_list()  # one row per unit
        unknown = [u for u, row in zip(units, ids, strict=True) if tokenizer.unk_id in row]
        if unknown:
            return unknown[:count]
    return []


def require_known_text(
    tokenizer, texts: list[str], max_share: float, vocabulary: str, init_from: str
) -> None:
    """Logs the `[UNK]` share of (a sample of) the training texts; raises ValueError
    naming it, unknown characters and the way out when it is above `max_share`."""
    sample = texts[:: max(1, len(texts) // SAMPLE_TEXTS)][:SAMPLE_TEXTS]
    share, pieces = unknown_share(tokenizer, sample)
    logging.info(
        "[UNK] pieces: %.1f %% of %d in %d training texts (vocabulary %s)",
        100 * share, pieces, len(sample), vocabulary,
    )  # fmt: skip
    if share <= max_share:
        return
    if init_from not in ("", "none"):
        way_out = (
            f"the vocabulary is --init_from={init_from}'s: start from a model whose "
            "vocabulary covers this text, or train from scratch with --init_from=none (a "
            "vocabulary is then trained on the task's text)"
        )
    else:
        way_out = (
            "give --vocabulary= one that covers this text, or leave --vocabulary out to "
            "train one on the task's text (--vocabulary_size_target= sets its size)"
        )
    examples = " ".join(unknown_examples(tokenizer, sample))
    raise ValueError(
        f"{100 * share:.1f} % of the {pieces:,} pieces of {len(sample):,} training texts are "
        f"[UNK] (unknown: {examples}), above --max_unknown_share={max_share:g}: the model "
        f"would not see the text; {way_out}; or --max_unknown_share=1 to train anyway"
    )

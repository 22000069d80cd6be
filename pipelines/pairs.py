"""Sentence-pair objectives: NSP (BERT), SOP (ALBERT), applied to batches of strings.

Input: a batch of paragraph dicts from `pipelines.sources` (`previous`, `text`,
`document`), each row holding two consecutive paragraphs of one document.
Output: `(first, second, label)` string/int32 tensors of shape (batch,).

- nsp: with probability 1/2 the second segment is replaced by the paragraph of another
  row of the batch (shuffled stream); label 1 = "not next". A row whose replacement
  happens to come from the same document keeps its real next paragraph (label 0), so
  labels are always true.
- sop: with probability 1/2 the two segments are swapped; label 1 = "swapped".
"""

import tensorflow as tf

PAIR_OBJECTIVES = ("nsp", "sop")


def make_segment_pairs(
    batch: dict[str, tf.Tensor],
    pair_objective: str,
    swap_rate: float = 0.5,
    seed: int | None = None,
) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    if pair_objective not in PAIR_OBJECTIVES:
        raise ValueError(f"pair_objective must be one of {PAIR_OBJECTIVES}, got {pair_objective!r}")
    first, second, document = batch["previous"], batch["text"], batch["document"]
    coin = tf.random.uniform(tf.shape(first), seed=seed) < swap_rate
    if pair_objective == "nsp":
        other, other_document = tf.roll(second, 1, axis=0), tf.roll(document, 1, axis=0)
        replaced = coin & tf.not_equal(other_document, document)
        return first, tf.where(replaced, other, second), tf.cast(replaced, tf.int32)
    return (
        tf.where(coin, second, first),
        tf.where(coin, first, second),
        tf.cast(coin, tf.int32),
    )

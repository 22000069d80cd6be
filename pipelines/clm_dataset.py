"""The causal-LM input pipeline: text -> token stream -> fixed windows -> (inputs, labels).

Two ways to hold out validation text:
- `holdout="documents"` (corpora): paragraphs are read document-tagged
  (`pipelines.sources`), whole documents go to validation; each document starts with the
  end-of-text token and its paragraphs are joined by a newline, then all of it is one
  stream.
- `holdout="tail"` (one text, nanoGPT's shakespeare_char recipe): each file is read
  whole and tokenized; the first `1 - validation_fraction` of its tokens train, the
  rest validate.

The stream is cut into windows of `sequence_length + 1` tokens (packing: no padding),
shuffled, and each window gives `token_ids = w[:-1]`, `labels = w[1:]`. In training
every pass over the data starts at a random offset, so window borders move from epoch
to epoch. Shapes are static: (batch_size, sequence_length).
"""

import tensorflow as tf

from pipelines.pack import pack_windows, token_stream
from pipelines.sanitize import LineStats
from pipelines.sources import read_paragraphs

AUTOTUNE = tf.data.AUTOTUNE


def make_clm_dataset(
    files: list[str],
    tokenizer,
    batch_size: int,
    sequence_length: int = 256,
    split: str = "train",
    holdout: str = "documents",
    validation_fraction: float = 0.01,
    shuffle_buffer: int = 10_000,
    max_line_bytes: int = 100_000,
    seed: int = 0,
    stats: LineStats | None = None,
    repeat: bool = True,
) -> tf.data.Dataset:
    """Batches of `(x, y)`: x = {"token_ids", "padding_mask"}, y = next-token ids."""
    training = split == "train"
    if holdout not in ("documents", "tail"):
        raise ValueError(f"holdout must be documents|tail, got {holdout!r}")

    if holdout == "documents":
        paragraphs = read_paragraphs(files, split, validation_fraction, max_line_bytes, stats)
        one_pass = token_stream(paragraphs, tokenizer, tokenizer.end_id, paragraph_join="\n")
    else:
        one_pass = _tail_stream(files, tokenizer, split, validation_fraction)
    stream = one_pass
    if training:

        def shifted_pass(epoch):
            # A random start per pass (stateless: a resumed run replays it), so window
            # borders move between epochs.
            offset = tf.random.stateless_uniform(
                [],
                tf.stack([tf.cast(seed, tf.int64), epoch]),
                maxval=sequence_length + 1,
                dtype=tf.int32,
            )
            return one_pass.enumerate().map(
                lambda i, ids: tf.cond(i == 0, lambda: ids[offset:], lambda: ids)
            )

        stream = tf.data.Dataset.range(2**62 if repeat else 1).flat_map(shifted_pass)
    windows = pack_windows(stream, sequence_length + 1)
    if training:
        # one iteration of an endless stream: no reshuffle, whose seeds come from a
        # generator that an extra iterator (Keras peeks at the data) advances
        windows = windows.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=False)

    def split_window(window):
        window = tf.ensure_shape(window, [batch_size, sequence_length + 1])
        x = {
            "token_ids": window[:, :-1],
            "padding_mask": tf.ones([batch_size, sequence_length], tf.int32),
        }
        return x, window[:, 1:]

    batches = windows.batch(batch_size, drop_remainder=True)
    return batches.map(split_window, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def _tail_stream(files, tokenizer, split, validation_fraction):
    """Each file whole; its first (1 - validation_fraction) tokens train, the rest validate."""

    def tokens(path):
        ids = tf.cast(tokenizer.tokenize(tf.io.read_file(path)), tf.int32)
        cut = tf.cast(tf.cast(tf.size(ids), tf.float64) * (1.0 - validation_fraction), tf.int32)
        return ids[:cut] if split == "train" else ids[cut:]

    return tf.data.Dataset.from_tensor_slices(files).map(tokens)

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

from pipelines.pack import pack_windows
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

    def one_pass(epoch):
        if holdout == "documents":
            args = (files, tokenizer, split, validation_fraction, max_line_bytes, stats)
            stream = _document_stream(*args)
        else:
            stream = _tail_stream(files, tokenizer, split, validation_fraction)
        if not training:
            return stream
        # A random start per pass (stateless: a resumed run replays it): window borders
        # move between epochs.
        offset = tf.random.stateless_uniform(
            [], [seed, epoch], maxval=sequence_length + 1, dtype=tf.int32
        )
        return stream.enumerate().map(
            lambda i, ids: tf.cond(i == 0, lambda: ids[offset:], lambda: ids)
        )

    passes = tf.data.Dataset.range(2**62 if training and repeat else 1)
    stream = passes.flat_map(one_pass)
    windows = pack_windows(stream, sequence_length + 1)
    if training:
        windows = windows.shuffle(shuffle_buffer, seed=seed)

    def split_window(window):
        window = tf.ensure_shape(window, [batch_size, sequence_length + 1])
        x = {
            "token_ids": window[:, :-1],
            "padding_mask": tf.ones([batch_size, sequence_length], tf.int32),
        }
        return x, window[:, 1:]

    batches = windows.batch(batch_size, drop_remainder=True)
    return batches.map(split_window, num_parallel_calls=AUTOTUNE).prefetch(AUTOTUNE)


def _document_stream(files, tokenizer, split, validation_fraction, max_line_bytes, stats):
    """1-D token vectors: [end] + first paragraph, "\\n" + each following paragraph."""
    paragraphs = read_paragraphs(
        files,
        split=split,
        validation_fraction=validation_fraction,
        max_line_bytes=max_line_bytes,
        stats=stats,
    )

    def tokens(batch):
        first = tf.equal(batch["previous"], "")
        text = tf.where(first, batch["text"], tf.strings.join(["\n", batch["text"]]))
        ids = tf.cast(tokenizer.tokenize(text), tf.int32)
        end = tf.ragged.boolean_mask(
            tf.fill(tf.shape(first[:, None]), tokenizer.end_id), first[:, None]
        )
        return tf.concat([tf.cast(end, tf.int32), ids], axis=1).flat_values

    return paragraphs.batch(256).map(tokens, num_parallel_calls=AUTOTUNE)


def _tail_stream(files, tokenizer, split, validation_fraction):
    """Each file whole; its first (1 - validation_fraction) tokens train, the rest validate."""

    def tokens(path):
        ids = tf.cast(tokenizer.tokenize(tf.io.read_file(path)), tf.int32)
        cut = tf.cast(tf.cast(tf.size(ids), tf.float64) * (1.0 - validation_fraction), tf.int32)
        return ids[:cut] if split == "train" else ids[cut:]

    return tf.data.Dataset.from_tensor_slices(files).map(tokens)

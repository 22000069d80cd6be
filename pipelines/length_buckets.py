"""Length bucketing for fine-tuning batches: sort a window of examples by length, cut it
into batches, trim each batch to its longest row.

Most fine-tuning texts are much shorter than `sequence_length` (SST-2's training
phrases: a median of 9 tokens against a length of 64), so padding every batch to the
full length spends most of the step on padding. Here a shuffled window of
`window` batches is sorted by length, split into batches of neighbours, and each batch
is cut to its longest row rounded up to a multiple of `multiple` (few distinct shapes,
so few retraces); the batches of a window are then shuffled.
"""

import tensorflow as tf


def bucket_by_length(
    windows: tf.data.Dataset, sequence_length: int, window: int, multiple: int = 8, seed: int = 0
) -> tf.data.Dataset:
    """`windows`: encoded elements of `window * batch` examples whose sequence tensors
    are (examples, sequence_length) (static); every `*padding_mask*` key counts toward an
    example's length (a pair's longer side). Yields `window` batches per element, each
    trimmed along the sequence axis; tensors of other shapes (labels) pass unchanged."""

    def split(*element):
        inputs = element[0]
        masks = [v for k, v in inputs.items() if "padding_mask" in k]
        lengths = tf.reduce_max(tf.stack([tf.reduce_sum(m, axis=1) for m in masks]), axis=0)
        order = tf.argsort(lengths, stable=True)
        # (window * batch, ...) -> (window, batch, ...), neighbours in length together.
        return tf.data.Dataset.from_tensor_slices(
            tf.nest.map_structure(lambda t: _windowed(tf.gather(t, order), window), element)
        )

    def trim(*batch):
        masks = [v for k, v in batch[0].items() if "padding_mask" in k]
        longest = tf.reduce_max(tf.stack([tf.reduce_max(tf.reduce_sum(m, axis=1)) for m in masks]))
        length = tf.minimum((longest + multiple - 1) // multiple * multiple, sequence_length)
        return tf.nest.map_structure(lambda t: _trim(t, sequence_length, length), batch)

    # one endless stream: no reshuffle per iterator (each would draw a new seed)
    batches = windows.flat_map(split).shuffle(window, seed=seed, reshuffle_each_iteration=False)
    return batches.map(trim, num_parallel_calls=tf.data.AUTOTUNE)


def _windowed(tensor: tf.Tensor, window: int) -> tf.Tensor:
    shape = tf.shape(tensor)
    return tf.reshape(tensor, tf.concat([[window, shape[0] // window], shape[1:]], axis=0))


def _trim(tensor: tf.Tensor, sequence_length: int, length: tf.Tensor) -> tf.Tensor:
    """(batch, sequence_length, ...) -> (batch, length, ...); anything else unchanged."""
    if tensor.shape.rank >= 2 and tensor.shape[1] == sequence_length:
        return tensor[:, :length]
    return tensor

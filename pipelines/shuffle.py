"""Endless training streams that every iterator replays identically."""

import tensorflow as tf


def shuffled_epochs(elements, size: int, seed: int) -> tf.data.Dataset:
    """The in-memory `elements` (a structure of `size`-row arrays, as for
    `Dataset.from_tensor_slices`) as an endless stream of passes, each pass its own
    permutation: row `index_shuffle(i % size)` keyed by (seed, pass number), a stateless
    function of the position in the stream. So every iterator (Keras' peek at the data,
    a resumed run's `skip()`) replays the same batches; a reshuffling
    `shuffle(...).repeat()` drew each pass's seed from a generator those iterators
    advance, so a resumed run trained on other batches after its first epoch."""
    tensors = tf.nest.map_structure(
        lambda t: t if isinstance(t, tf.RaggedTensor) else tf.convert_to_tensor(t), elements
    )

    def row(i):
        key = tf.stack([tf.constant(seed, tf.int64), i // size])
        index = tf.random.experimental.index_shuffle(i % size, key, size - 1)
        return tf.nest.map_structure(lambda t: tf.gather(t, index), tensors)

    return tf.data.Dataset.counter().map(row)

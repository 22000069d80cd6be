"""Endless training streams that every iterator replays identically."""

import tensorflow as tf


def shuffled_epochs(dataset: tf.data.Dataset, size: int, seed: int) -> tf.data.Dataset:
    """`dataset` (of `size` elements) repeated forever, each epoch in its own order, the
    same for every iterator: epoch `e` is shuffled with seed `seed * 1000003 + e`. A
    reshuffling `shuffle(...).repeat()` draws each epoch's seed from a generator that
    every iterator advances, so Keras' peek at the data, or a resumed run's `skip()`,
    gave other batches after the first epoch."""

    def epoch(index):
        return dataset.shuffle(size, seed=seed * 1_000_003 + index, reshuffle_each_iteration=False)

    return tf.data.Dataset.counter().flat_map(epoch)

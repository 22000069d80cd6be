"""Fixed-length windows over a token stream (RoBERTa full-sentence / GPT packing)."""

import tensorflow as tf


def pack_windows(token_stream: tf.data.Dataset, window: int) -> tf.data.Dataset:
    """Cuts a dataset of 1-D token vectors into fixed windows across element borders.

    RoBERTa's FULL-SENTENCES packing and GPT's fixed-length windows: no padding waste.
    """
    return token_stream.rebatch(window, drop_remainder=True)

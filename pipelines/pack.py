"""Token streams and fixed-length windows over them (RoBERTa full-sentence / GPT packing)."""

import tensorflow as tf


def pack_windows(token_stream: tf.data.Dataset, window: int) -> tf.data.Dataset:
    """Cuts a dataset of 1-D token vectors into fixed windows across element borders.

    RoBERTa's FULL-SENTENCES packing and GPT's fixed-length windows: no padding waste.
    """
    return token_stream.rebatch(window, drop_remainder=True)


def token_stream(
    paragraphs: tf.data.Dataset, tokenizer, separator_id: int, paragraph_join: str = ""
) -> tf.data.Dataset:
    """Document-tagged paragraphs (`pipelines.sources`) as 1-D int32 token vectors:
    `separator_id` before each document's first paragraph, `paragraph_join` text
    before each following one (e.g. "\n" so a causal LM sees paragraph breaks)."""

    def tokens(batch):
        first = tf.equal(batch["previous"], "")
        text = batch["text"]
        if paragraph_join:
            text = tf.where(first, text, tf.strings.join([paragraph_join, text]))
        ids = tf.cast(tokenizer.tokenize(text), tf.int32)
        separator = tf.ragged.boolean_mask(
            tf.fill(tf.shape(first[:, None]), separator_id), first[:, None]
        )
        return tf.concat([separator, ids], axis=1).flat_values

    return paragraphs.batch(256).map(tokens, num_parallel_calls=tf.data.AUTOTUNE)

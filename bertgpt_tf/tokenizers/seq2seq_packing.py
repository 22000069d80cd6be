"""Packing token ids for an encoder-decoder: shared by the tf.data pipeline and the export.

The source is `tokens + [end]`; the decoder reads `[end] + tokens` and predicts
`tokens + [end]` (the end-of-text id doubles as the start token, as in BART), so the
SentencePiece models need no extra special token. Both sides are cut to `length` and
padded to exactly `length` (static shapes).

Example:
>>> ids = tf.ragged.constant([[5, 6, 7], [8]])
>>> pack_source(ids, end_id=2, pad_id=0, length=3)["encoder_token_ids"].numpy().tolist()
[[5, 6, 2], [8, 2, 0]]
>>> inputs, labels, weights = pack_target(ids, end_id=2, pad_id=0, length=3)
>>> inputs["decoder_token_ids"].numpy().tolist(), labels.numpy().tolist()
([[2, 5, 6], [2, 8, 0]], [[5, 6, 2], [8, 2, 0]])
"""

import tensorflow as tf


def _pad(ids: tf.RaggedTensor, pad_id: int, length: int) -> tuple[tf.Tensor, tf.Tensor]:
    """(batch, <=length) ragged -> (batch, length) ids and int32 padding mask."""
    ids = tf.cast(ids, tf.int32)
    dense = ids.to_tensor(pad_id, shape=[None, length])
    mask = tf.sequence_mask(ids.row_lengths(), length, dtype=tf.int32)
    return dense, mask


def _with_end(ids: tf.RaggedTensor, end_id: int, keep: int, at_start: bool) -> tf.RaggedTensor:
    ids = tf.cast(ids, tf.int32)[:, :keep]
    end = tf.RaggedTensor.from_tensor(tf.fill([tf.shape(ids.row_lengths())[0], 1], end_id))
    return tf.concat([end, ids] if at_start else [ids, end], axis=1)


def pack_source(ids: tf.RaggedTensor, end_id: int, pad_id: int, length: int) -> dict:
    """(batch, tokens) ragged -> `encoder_token_ids`, `encoder_padding_mask`
    (batch, length) int32: the first `length - 1` tokens, then `end_id`."""
    token_ids, mask = _pad(_with_end(ids, end_id, length - 1, at_start=False), pad_id, length)
    return {"encoder_token_ids": token_ids, "encoder_padding_mask": mask}


def pack_target(ids: tf.RaggedTensor, end_id: int, pad_id: int, length: int) -> tuple:
    """(batch, tokens) ragged -> (`decoder_token_ids`/`decoder_padding_mask` dict,
    labels, label weights), each (batch, length): inputs `[end] + tokens`, labels
    `tokens + [end]`, weights 1.0 on real labels."""
    token_ids, mask = _pad(_with_end(ids, end_id, length - 1, at_start=True), pad_id, length)
    labels, _ = _pad(_with_end(ids, end_id, length - 1, at_start=False), pad_id, length)
    inputs = {"decoder_token_ids": token_ids, "decoder_padding_mask": mask}
    return inputs, labels, tf.cast(mask, tf.float32)

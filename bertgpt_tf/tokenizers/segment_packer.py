"""Trim and pack token segments into `[CLS] A [SEP] B [SEP]` with `segment_ids`.

Shared by the training pipelines and the SavedModel exports: one preprocessing path.

The pair trimmer is written here with plain ragged ops (no `RoundRobinTrim` kernel):
TF Serving 2.12-2.19 link TF-Text 2.12, which lacks that op, and the export re-uses this
function, so training and serving share one trimming rule.
"""

import tensorflow as tf
import tensorflow_text as text


def trim_pair(
    first: tf.RaggedTensor, second: tf.RaggedTensor, max_tokens: int
) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
    """Round-robin budget split: each segment gets half, a short one cedes the rest.

    `first` keeps its *last* tokens (the text next to the boundary), `second` its first.
    """
    first_length = first.row_lengths()
    second_length = second.row_lengths()
    keep_first = tf.minimum(
        first_length, tf.maximum(max_tokens - second_length, (max_tokens + 1) // 2)
    )
    keep_second = tf.minimum(second_length, max_tokens - keep_first)
    first_positions = tf.ragged.range(first_length)
    second_positions = tf.ragged.range(second_length)
    first = tf.ragged.boolean_mask(
        first, first_positions >= tf.expand_dims(first_length - keep_first, 1)
    )
    second = tf.ragged.boolean_mask(second, second_positions < tf.expand_dims(keep_second, 1))
    return first, second


def trim_single(segment: tf.RaggedTensor, max_tokens: int) -> tf.RaggedTensor:
    """Keeps the first `max_tokens` tokens of each row."""
    return segment[:, :max_tokens]


def pack_segments(
    segments: list[tf.RaggedTensor], cls_id: int, sep_id: int
) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
    """`[CLS] s0 [SEP] s1 [SEP] ...` -> (token_ids, segment_ids), ragged int32."""
    token_ids, segment_ids = text.combine_segments(
        segments, start_of_sequence_id=cls_id, end_of_segment_id=sep_id
    )
    return tf.cast(token_ids, tf.int32), tf.cast(segment_ids, tf.int32)


def to_dense(ragged: tf.RaggedTensor, length: int, pad_value: int = 0) -> tf.Tensor:
    """Pads/truncates to a static (batch, length) tensor."""
    return ragged.to_tensor(default_value=pad_value, shape=[None, length])

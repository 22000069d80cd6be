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


def encode_texts(
    tokenizer, text: tf.Tensor, text_b: tf.Tensor | None, sequence_length: int, static: bool
) -> dict[str, tf.Tensor]:
    """(batch,) strings (and optional second segments) -> the model's inputs, int32
    (batch, length), trimmed to `sequence_length`. `static`: length is
    `sequence_length` (training, XLA); else the longest row in the batch (serving:
    short requests stay cheap).

    An encoder's tokenizer (WordPiece: it has `cls_id`) gives `[CLS] a [SEP] (b [SEP])`
    as `token_ids`, `segment_ids`, `padding_mask`. A decoder's (GPT) gives
    `a <end> (b <end>)` as `token_ids`, `padding_mask`, right-padded: the last real
    token, which has seen the whole text, is an end token (last-token pooling)."""
    first = tokenizer.tokenize(text)
    encoder = hasattr(tokenizer, "cls_id")
    budget = sequence_length - (2 if encoder else 1) - (text_b is not None)
    if text_b is None:
        segments = [trim_single(first, budget)]
    else:
        segments = list(trim_pair(first, tokenizer.tokenize(text_b), budget))
    if encoder:
        token_ids, segment_ids = pack_segments(segments, tokenizer.cls_id, tokenizer.sep_id)
    else:
        end = tf.fill([first.nrows(), 1], tf.constant(tokenizer.end_id, first.dtype))
        pieces = [part for segment in segments for part in (segment, end)]
        token_ids, segment_ids = tf.cast(tf.concat(pieces, axis=1), tf.int32), None
    lengths = token_ids.row_lengths()
    length, shape = _padded_length(lengths, sequence_length, static)
    inputs = {
        "token_ids": token_ids.to_tensor(tokenizer.pad_id, shape=shape),
        "padding_mask": tf.sequence_mask(lengths, length, dtype=tf.int32),
    }
    if segment_ids is not None:
        inputs["segment_ids"] = segment_ids.to_tensor(0, shape=shape)
    return inputs


def _padded_length(lengths: tf.Tensor, sequence_length: int, static: bool):
    """(length, to_tensor shape): `sequence_length`, or the longest row but at least 1,
    so a batch of 0 requests gives (0, 1) tensors that every model slices cleanly."""
    if static:
        return sequence_length, [None, sequence_length]
    length = tf.maximum(tf.cast(tf.reduce_max(lengths), tf.int32), 1)
    return length, tf.stack([-1, length])


def encode_words(
    tokenizer, words: tf.RaggedTensor, sequence_length: int, static: bool
) -> tuple[dict[str, tf.Tensor], tf.RaggedTensor]:
    """(batch, words) ragged strings -> the encoder's inputs for `[CLS] pieces [SEP]`
    and `first_piece` (batch, words) ragged int32: each word's first-piece position in
    `token_ids`, or -1 for words cut off by `sequence_length`. A word with no pieces
    (e.g. only control characters) becomes [UNK], so every word has a first piece.
    A tokenizer with a `word_prefix` (RoBERTa's byte-level BPE: " ") reads each word with
    it, as its words appear in running text (Hugging Face's `add_prefix_space`)."""
    flat_words = words.flat_values
    if getattr(tokenizer, "word_prefix", ""):
        flat_words = tf.strings.join([tokenizer.word_prefix, flat_words])
    pieces = tokenizer.tokenize(flat_words)  # (total words, pieces)
    empty = tf.equal(pieces.row_lengths(), 0)
    unk = tf.RaggedTensor.from_row_lengths(
        tf.fill([tf.reduce_sum(tf.cast(empty, tf.int32))], tokenizer.unk_id),
        tf.cast(empty, tf.int64),
    )
    pieces = tf.concat([pieces, tf.cast(unk, pieces.dtype)], axis=1)
    word_lengths = pieces.row_lengths()  # (total words,)
    pieces = tf.RaggedTensor.from_row_splits(pieces, words.row_splits)  # (batch, words, pieces)
    # First-piece positions: 1 ([CLS]) + exclusive cumulative piece count per sentence.
    lengths = tf.RaggedTensor.from_row_splits(word_lengths, words.row_splits)
    first = tf.cast(1 + tf.math.cumsum(lengths, axis=1, exclusive=True), tf.int32)
    first = tf.where(first < sequence_length - 1, first, -1)
    segment = trim_single(pieces.merge_dims(1, 2), sequence_length - 2)
    token_ids, segment_ids = pack_segments([segment], tokenizer.cls_id, tokenizer.sep_id)
    lengths = token_ids.row_lengths()
    length, shape = _padded_length(lengths, sequence_length, static)
    inputs = {
        "token_ids": token_ids.to_tensor(tokenizer.pad_id, shape=shape),
        "segment_ids": segment_ids.to_tensor(0, shape=shape),
        "padding_mask": tf.sequence_mask(lengths, length, dtype=tf.int32),
    }
    return inputs, first

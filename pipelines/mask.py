"""Dynamic MLM masking with TF-Text: 15 % of tokens, 80/10/10, optional whole words.

Runs on every batch as it is drawn (dynamic masking, RoBERTa-style), so each epoch sees
new masks. Special tokens are never selected. With `is_continuation` (a bool vector
over the vocabulary marking "##" pieces) the selection is over whole words: a word's
pieces are masked together or not at all.
"""

import tensorflow as tf
import tensorflow_text as text

from bertgpt_tf.tokenizers.special_tokens import CLS_ID, MASK_ID, PAD_ID, SEP_ID, UNK_ID

UNSELECTABLE_IDS = (PAD_ID, CLS_ID, SEP_ID, MASK_ID, UNK_ID)


class ReproducibleItemSelector(text.RandomItemSelector):
    """`RandomItemSelector` with one vectorised random draw per batch.

    TF-Text's selector shuffles each row inside `map_fn`, whose parallel iterations
    draw from the shared RNG in a racy order, so the same seed gives different masks
    from run to run — and a resumed run would not see the masks of an unbroken one.
    Here every selectable item gets a uniform score in one op and each row keeps its
    `ceil(rate * selectable)` (at most `max_selections_per_batch`) lowest scores:
    the same distribution, reproducibly.
    """

    def get_selection_mask(self, input_ids, axis=1):
        selectable = self.get_selectable(input_ids, axis)  # (batch, items) bool
        flat = selectable.flat_values
        row_ids = selectable.value_rowids()
        scores = tf.where(flat, tf.random.uniform(tf.shape(flat)), 2.0)  # unselectable last
        order = tf.argsort(tf.cast(row_ids, tf.float64) * 4.0 + tf.cast(scores, tf.float64))
        size = tf.shape(flat, out_type=tf.int64)[0]
        position = tf.scatter_nd(order[:, None], tf.range(size), [size])
        rank = position - tf.gather(selectable.row_starts(), row_ids)  # rank within row
        count = tf.math.unsorted_segment_sum(tf.cast(flat, tf.float32), row_ids, selectable.nrows())
        quota = tf.minimum(tf.math.ceil(count * self.selection_rate), self.max_selections_per_batch)
        return selectable.with_flat_values(
            flat & (rank < tf.gather(tf.cast(quota, tf.int64), row_ids))
        )


def group_words(token_ids: tf.RaggedTensor, is_continuation: tf.Tensor) -> tf.RaggedTensor:
    """(batch, tokens) -> (batch, words, pieces): a word starts at every non-"##" piece.

    Every row's first token ([CLS]) starts a word, so word borders nest in row borders.
    """
    flat = token_ids.flat_values
    after_special = tf.reduce_any(
        tf.equal(tf.expand_dims(tf.roll(flat, 1, axis=0), 1), UNSELECTABLE_IDS), axis=1
    )  # a stray "##" piece after [SEP] must not join the [SEP] word
    starts = tf.logical_not(tf.gather(is_continuation, flat)) | after_special
    starts = tf.tensor_scatter_nd_update(
        starts,
        tf.expand_dims(token_ids.row_starts(), 1),
        tf.ones_like(token_ids.row_starts(), tf.bool),
    )
    words = tf.RaggedTensor.from_row_starts(flat, tf.where(starts)[:, 0])
    word_counts = tf.math.segment_sum(tf.cast(starts, tf.int64), token_ids.value_rowids())
    word_counts = tf.pad(
        word_counts, [[0, token_ids.nrows() - tf.shape(word_counts, out_type=tf.int64)[0]]]
    )
    return tf.RaggedTensor.from_row_lengths(words, word_counts)


def mask_tokens(
    token_ids: tf.RaggedTensor,
    vocabulary_size: int,
    max_predictions_per_seq: int,
    mask_rate: float = 0.15,
    is_continuation: tf.Tensor | None = None,
) -> dict[str, tf.Tensor]:
    """Masks a ragged (batch, tokens) int32 batch.

    Returns dense tensors: `token_ids` (ragged, masked), `mask_positions`, `mask_ids`
    (int32) and `mask_weights` (float32), each (batch, max_predictions_per_seq).
    Whole-word selections that exceed `max_predictions_per_seq` pieces keep their
    first `max_predictions_per_seq` labels.
    """
    selector = ReproducibleItemSelector(
        max_selections_per_batch=max_predictions_per_seq,
        selection_rate=mask_rate,
        unselectable_ids=list(UNSELECTABLE_IDS),
    )
    chooser = text.MaskValuesChooser(
        vocabulary_size, MASK_ID, mask_token_rate=0.8, random_token_rate=0.1
    )
    inputs = token_ids if is_continuation is None else group_words(token_ids, is_continuation)
    masked_ids, positions, originals = text.mask_language_model(inputs, selector, chooser, axis=1)
    positions = positions[:, :max_predictions_per_seq]
    originals = originals[:, :max_predictions_per_seq]
    shape = [None, max_predictions_per_seq]
    return {
        "token_ids": tf.cast(masked_ids, tf.int32),
        "mask_positions": tf.cast(positions.to_tensor(shape=shape), tf.int32),
        "mask_ids": tf.cast(originals.to_tensor(shape=shape), tf.int32),
        "mask_weights": tf.ones_like(positions, tf.float32).to_tensor(shape=shape),
    }

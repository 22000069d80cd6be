"""Dynamic MLM masking with TF-Text: 15 % of tokens, 80/10/10, optional whole words.

Runs on every batch as it is drawn (dynamic masking, RoBERTa-style), so each epoch sees
new masks. Special tokens are never selected. With `is_continuation` (a bool vector
over the vocabulary marking "##" pieces) the selection is over whole words: a word's
pieces are masked together or not at all.
"""

import tensorflow as tf
import tensorflow_text as text

from bertgpt_tf.tokenizers.special_tokens import CLS_ID, MASK_ID, PAD_ID, SEP_ID, UNK_ID
from bertgpt_tf.tokenizers.wordpiece_tokenizer import group_words

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


def mask_tokens(
    token_ids: tf.RaggedTensor,
    vocabulary_size: int,
    max_predictions_per_seq: int,
    mask_rate: float = 0.15,
    is_continuation: tf.Tensor | None = None,
    mask_id: int = MASK_ID,
    special_ids: tuple[int, ...] = UNSELECTABLE_IDS,
) -> dict[str, tf.Tensor]:
    """Masks a ragged (batch, tokens) int32 batch.

    Returns dense tensors: `token_ids` (ragged, masked), `mask_positions`, `mask_ids`
    (int32) and `mask_weights` (float32), each (batch, max_predictions_per_seq).
    Whole-word selections that exceed `max_predictions_per_seq` pieces keep their
    first `max_predictions_per_seq` labels. `mask_id` and `special_ids` (never
    selected) default to this project's vocabulary layout; pass the tokenizer's for
    imported vocabularies.
    """
    selector = ReproducibleItemSelector(
        max_selections_per_batch=max_predictions_per_seq,
        selection_rate=mask_rate,
        unselectable_ids=list(special_ids),
    )
    chooser = text.MaskValuesChooser(
        vocabulary_size, mask_id, mask_token_rate=0.8, random_token_rate=0.1
    )
    if is_continuation is None:
        inputs = token_ids
    else:
        inputs = group_words(token_ids, is_continuation, special_ids)
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

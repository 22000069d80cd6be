"""WeightedTokenLoss: cross-entropy averaged over the real tokens of the *global* batch."""

import keras
import tensorflow as tf


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class WeightedTokenLoss(keras.losses.Loss):
    """Sparse cross-entropy from logits, summed with `sample_weight` and divided by the
    sum of weights over the whole global batch.

    Keras' `"mean_with_sample_weight"` divides by each replica's own weight sum, so
    under `MirroredStrategy` a replica with fewer masked tokens would count more, and
    2 replicas would not train like 1 device on the same batch. Here the weight sum is
    all-reduced across replicas first, so the gradient is the single-device one.

    Args:
        label_smoothing: ε; the target distribution puts 1 - ε on the label and ε spread
            uniformly over the vocabulary: loss = (1 - ε) * nll + ε * mean(-log p).

    Example:
    >>> import numpy as np
    >>> loss = WeightedTokenLoss()
    >>> labels = np.array([[1, 0]], "int32")
    >>> logits = np.array([[[0.0, 9.0], [0.0, 9.0]]], "float32")  # token 2 is wrong
    >>> float(loss(labels, logits)) > 4.0
    True
    >>> float(loss(labels, logits, sample_weight=np.array([[1.0, 0.0]], "float32"))) < 1e-3
    True
    """

    def __init__(self, label_smoothing: float = 0.0, name: str = "weighted_token_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing

    def __call__(self, y_true, y_pred, sample_weight=None):
        losses = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)
        if self.label_smoothing:
            uniform = -tf.reduce_mean(tf.nn.log_softmax(tf.cast(y_pred, tf.float32)), axis=-1)
            smoothing = tf.cast(self.label_smoothing, losses.dtype)
            losses = (1.0 - smoothing) * losses + smoothing * tf.cast(uniform, losses.dtype)
        weights = (
            tf.ones_like(losses) if sample_weight is None else tf.cast(sample_weight, losses.dtype)
        )
        weights = tf.reshape(weights, tf.shape(losses))
        total = tf.reduce_sum(losses * weights)
        count = tf.reduce_sum(weights)
        context = tf.distribute.get_replica_context()
        if context is not None and context.num_replicas_in_sync > 1:
            # Replica gradients are summed: sum_r total_r / global_count is the global
            # mean. (Keras' own losses scale by 1/num_replicas for the same reason.)
            count = context.all_reduce("sum", count)
        return tf.math.divide_no_nan(total, count)

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}

    def call(self, y_true, y_pred):  # pragma: no cover - __call__ handles everything
        return keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=True)

"""Pooling layers: one vector per text from a backbone's `sequence_output`.

`LastTokenPooling` reads a causal decoder (`TextClassifier` over a `GPTDecoder`),
`MeanPooling` a bidirectional encoder (`SentenceEmbedder`). A `BertEncoder`'s own
[CLS] pooler is its `pooled_dense` (`pooled_output`).
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class LastTokenPooling(keras.layers.Layer):
    """The vector of each row's last real token (right padding): a causal decoder's
    only position that has read the whole text."""

    def call(self, sequence_output, padding_mask):
        last = ops.sum(ops.cast(padding_mask, "int32"), axis=1) - 1
        last = ops.maximum(last, 0)[:, None, None]
        return ops.take_along_axis(sequence_output, last, axis=1)[:, 0, :]


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class MeanPooling(keras.layers.Layer):
    """Mean of the sequence vectors over the real (unpadded) tokens, L2-normalised
    (`normalize=False`: as it is, for a classifier's head)."""

    def __init__(self, normalize: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.normalize = normalize

    def call(self, sequence_output, padding_mask):
        mask = ops.cast(padding_mask, sequence_output.dtype)[:, :, None]
        total = ops.sum(sequence_output * mask, axis=1)
        mean = total / ops.maximum(ops.sum(mask, axis=1), 1.0)
        if not self.normalize:
            return mean
        mean = ops.cast(mean, "float32")
        return mean / ops.maximum(ops.norm(mean, axis=-1, keepdims=True), 1e-12)

    def get_config(self) -> dict:
        return {**super().get_config(), "normalize": self.normalize}

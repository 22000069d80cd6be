"""SentenceEmbedder: Sentence-BERT embeddings (mean pooling, L2-normalised) and the
siamese cosine-similarity model that trains them."""

import keras
from keras import ops

from bertgpt_tf.config import EMBED_LOSSES
from bertgpt_tf.layers.pooling import MeanPooling
from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.tasks.legacy_files import backbone_from_config
from bertgpt_tf.tasks.task_model import OwnLoss

SIDES = ("a", "b")  # the two texts of a pair: input keys `token_ids_a`, `token_ids_b`, ...


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class SentenceEmbedder(keras.Model):
    """A `BertEncoder` backbone whose output is one unit vector per text (Sentence-BERT).

    Inputs: `token_ids`, `segment_ids`, `padding_mask` (batch, seq).
    Output: float32 `embedding` (batch, hidden_dim), L2 norm 1.
    """

    def __init__(self, backbone: BertEncoder, **kwargs):
        # === Layers ===
        self.backbone = backbone
        backbone.pooled_dense.trainable = False  # mean pooling: the pooler is unused
        self.pooling = MeanPooling(dtype="float32", name="mean_pooling")

        # === Functional Model ===
        inputs = dict(backbone.input)
        sequence_output = backbone(inputs)["sequence_output"]
        embedding = self.pooling(sequence_output, inputs["padding_mask"])
        super().__init__(inputs=inputs, outputs=embedding, **kwargs)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
        }

    @classmethod
    def from_config(cls, config: dict):
        return cls(**backbone_from_config(config))


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class CoSENTLoss(keras.losses.Loss):
    """CoSENT (Su 2022; sentence-transformers' `CoSENTLoss`, AnglE's ranking term): over
    every two pairs i, j of the batch whose gold scores are ordered s_i > s_j,

        log(1 + sum_{s_i > s_j} exp(scale * (cos_j - cos_i)))

    Only the order of the cosines counts, which is what Spearman measures, not their
    level: adding a constant to every cosine leaves the loss unchanged. An MLM encoder
    whose cosines all sit near 0.7 (anisotropic embeddings) is not first pushed down to
    the scores' scale, as the MSE of `CosineSimilarityLoss` pushes it. A batch with no
    ordered pair (all scores equal) gives log(1) = 0.

    >>> import numpy as np
    >>> loss = CoSENTLoss()
    >>> scores = np.array([[1.0], [0.5], [0.0]])
    >>> round(float(loss(scores, np.array([[0.9], [0.5], [0.1]]))), 4)  # right order
    0.0007
    >>> round(float(loss(scores, np.array([[0.1], [0.5], [0.9]]))), 2)  # reversed
    16.0
    """

    def __init__(self, scale: float = 20.0, name: str = "cosent", **kwargs):
        super().__init__(name=name, **kwargs)
        self.scale = scale

    def call(self, y_true, y_pred):
        score = ops.reshape(ops.cast(y_true, "float32"), (-1,))
        cosine = ops.reshape(ops.cast(y_pred, "float32"), (-1,)) * self.scale
        ordered = score[:, None] > score[None, :]  # (i, j): s_i > s_j
        margins = ops.where(ordered, cosine[None, :] - cosine[:, None], -1e9)
        return ops.logsumexp(ops.concatenate([ops.zeros((1,)), ops.reshape(margins, (-1,))]))

    def get_config(self) -> dict:
        return {**super().get_config(), "scale": self.scale}


class SiameseSimilarity(OwnLoss, keras.Model):
    """The training model of `embed`: the embedder's inputs for both texts, keyed
    `<name>_a` and `<name>_b` (`token_ids_a`, ...) -> cosine similarity (batch, 1), both
    texts through the same `embedder` (shared weights). It trains, its
    `compile_defaults`, against the gold similarity scaled to [0, 1] with `embed_loss`:
    "cosine", the MSE of cosine and score (Sentence-BERT's CosineSimilarityLoss), or
    "cosent", the ranking loss `CoSENTLoss`. `embedder` is what is saved and served."""

    def __init__(self, embedder: SentenceEmbedder, embed_loss: str = "cosine", **kwargs):
        if embed_loss not in EMBED_LOSSES:
            raise ValueError(f"embed_loss must be {'|'.join(EMBED_LOSSES)}, got {embed_loss!r}")
        inputs = {
            f"{name}_{side}": keras.Input(shape=(None,), dtype="int32", name=f"{name}_{side}")
            for side in SIDES
            for name in embedder.input
        }
        u, v = (
            embedder({name: inputs[f"{name}_{side}"] for name in embedder.input}) for side in SIDES
        )
        cosine = keras.layers.Dot(axes=-1, dtype="float32", name="cosine")([u, v])
        super().__init__(inputs=inputs, outputs=cosine, name="siamese_similarity", **kwargs)
        self.embedder = embedder
        self.embed_loss = embed_loss

    def compile_defaults(self) -> dict:
        if self.embed_loss == "cosent":  # cosines off the scores' scale: no MSE metric
            return dict(loss=CoSENTLoss())
        return dict(
            loss=keras.losses.MeanSquaredError(),
            weighted_metrics=[keras.metrics.MeanSquaredError("mse")],
        )

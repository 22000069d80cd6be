"""SentenceEmbedder: Sentence-BERT embeddings (mean pooling, L2-normalised) and the
siamese cosine-similarity model that trains them."""

import keras

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


class SiameseSimilarity(OwnLoss, keras.Model):
    """The training model of `embed`: the embedder's inputs for both texts, keyed
    `<name>_a` and `<name>_b` (`token_ids_a`, ...) -> cosine similarity (batch, 1), both
    texts through the same `embedder` (shared weights). It trains with MSE against the
    gold similarity scaled to [0, 1] (Sentence-BERT's CosineSimilarityLoss), its
    `compile_defaults`; `embedder` is what is saved and served."""

    def __init__(self, embedder: SentenceEmbedder, **kwargs):
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

    def compile_defaults(self) -> dict:
        return dict(
            loss=keras.losses.MeanSquaredError(),
            weighted_metrics=[keras.metrics.MeanSquaredError("mse")],
        )

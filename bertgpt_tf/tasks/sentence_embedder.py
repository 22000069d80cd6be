"""SentenceEmbedder: Sentence-BERT embeddings (mean pooling, L2-normalised) and the
siamese cosine-similarity model that trains them."""

import keras
from keras import ops

from bertgpt_tf.models.bert_encoder import BertEncoder

SIDES = ("a", "b")  # the two texts of a pair: input keys `token_ids_a`, `token_ids_b`, ...


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class MeanPooling(keras.layers.Layer):
    """Mean of the sequence vectors over the real (unpadded) tokens, L2-normalised."""

    def call(self, sequence_output, padding_mask):
        mask = ops.cast(padding_mask, sequence_output.dtype)[:, :, None]
        total = ops.sum(sequence_output * mask, axis=1)
        mean = total / ops.maximum(ops.sum(mask, axis=1), 1.0)
        mean = ops.cast(mean, "float32")
        return mean / ops.maximum(ops.norm(mean, axis=-1, keepdims=True), 1e-12)


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class SentenceEmbedder(keras.Model):
    """A `BertEncoder` whose output is one unit vector per text (Sentence-BERT).

    Inputs: `token_ids`, `segment_ids`, `padding_mask` (batch, seq).
    Output: float32 `embedding` (batch, hidden_dim), L2 norm 1.
    """

    def __init__(self, encoder: BertEncoder, **kwargs):
        # === Layers ===
        self.encoder = encoder
        self.pooling = MeanPooling(dtype="float32", name="mean_pooling")

        # === Functional Model ===
        inputs = dict(encoder.input)
        sequence_output = encoder(inputs)["sequence_output"]
        embedding = self.pooling(sequence_output, inputs["padding_mask"])
        super().__init__(inputs=inputs, outputs=embedding, **kwargs)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
        }

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)


def siamese_similarity(embedder: SentenceEmbedder) -> keras.Model:
    """The training model: the embedder's inputs for both texts, keyed `<name>_a` and
    `<name>_b` (`token_ids_a`, ...) -> cosine similarity (batch, 1), both texts through
    the same `embedder` (shared weights). Train it with MSE against the gold similarity
    scaled to [0, 1] (Sentence-BERT's CosineSimilarityLoss)."""
    inputs = {
        f"{name}_{side}": keras.Input(shape=(None,), dtype="int32", name=f"{name}_{side}")
        for side in SIDES
        for name in embedder.input
    }
    u, v = (embedder({name: inputs[f"{name}_{side}"] for name in embedder.input}) for side in SIDES)
    cosine = keras.layers.Dot(axes=-1, dtype="float32", name="cosine")([u, v])
    return keras.Model(inputs=inputs, outputs=cosine, name="siamese_similarity")

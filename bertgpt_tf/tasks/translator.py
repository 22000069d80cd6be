"""Translator: a `Seq2SeqTransformer` with teacher-forced, label-smoothed token loss."""

import keras

from bertgpt_tf.models.seq2seq_transformer import Seq2SeqTransformer
from bertgpt_tf.tasks.weighted_token_loss import WeightedTokenLoss


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class Translator(keras.Model):
    """Training model: the four packed inputs -> next-target-token `logits`.

    The pipeline gives labels = decoder inputs shifted by one and weights = 1 on real
    target tokens; the loss averages over real tokens of the global batch
    (`WeightedTokenLoss`, label smoothing `label_smoothing`), accuracy is token-level.

    Args:
        seq2seq: a `Seq2SeqTransformer`.
        label_smoothing: ε of the loss (0.1 is the Transformer paper's).
    """

    def __init__(self, seq2seq: Seq2SeqTransformer, label_smoothing: float = 0.1, **kwargs):
        # === Layers ===
        self.seq2seq = seq2seq

        # === Functional Model ===
        inputs = dict(seq2seq.input)
        logits = seq2seq(inputs)["logits"]  # (batch, target, target vocabulary), float32
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        # === Config ===
        self.label_smoothing = label_smoothing

    def compile(self, optimizer="adamw", **kwargs):
        super().compile(
            optimizer=optimizer,
            loss=kwargs.pop("loss", WeightedTokenLoss(self.label_smoothing)),
            weighted_metrics=kwargs.pop(
                "weighted_metrics", [keras.metrics.SparseCategoricalAccuracy("accuracy")]
            ),
            **kwargs,
        )

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "seq2seq": keras.layers.serialize(self.seq2seq),
            "label_smoothing": self.label_smoothing,
        }

    @classmethod
    def from_config(cls, config: dict) -> "Translator":
        config = dict(config)
        config["seq2seq"] = keras.layers.deserialize(config["seq2seq"])
        return cls(**config)

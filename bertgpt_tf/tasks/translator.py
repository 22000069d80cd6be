"""Translator: a `Seq2SeqTransformer` backbone with teacher-forced, label-smoothed token loss."""

import keras

from bertgpt_tf.models.seq2seq_transformer import Seq2SeqTransformer
from bertgpt_tf.tasks.legacy_files import backbone_from_config
from bertgpt_tf.tasks.task_model import OwnLoss
from bertgpt_tf.tasks.weighted_token_loss import WeightedTokenLoss


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class Translator(OwnLoss, keras.Model):
    """Training model: the four packed inputs -> next-target-token `logits`.

    The pipeline gives labels = decoder inputs shifted by one and weights = 1 on real
    target tokens; the loss averages over real tokens of the global batch
    (`WeightedTokenLoss`, label smoothing `label_smoothing`), accuracy is token-level.

    Args:
        backbone: a `Seq2SeqTransformer` (what BLEU, the search and the export run).
        label_smoothing: ε of the loss (0.1 is the Transformer paper's).
    """

    def __init__(self, backbone: Seq2SeqTransformer, label_smoothing: float = 0.1, **kwargs):
        # === Layers ===
        self.backbone = backbone

        # === Functional Model ===
        inputs = dict(backbone.input)
        logits = backbone(inputs)["logits"]  # (batch, target, target vocabulary), float32
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

        # === Config ===
        self.label_smoothing = label_smoothing

    def compile_defaults(self) -> dict:
        return dict(
            loss=WeightedTokenLoss(self.label_smoothing),
            weighted_metrics=[keras.metrics.SparseCategoricalAccuracy("accuracy")],
        )

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.layers.serialize(self.backbone),
            "label_smoothing": self.label_smoothing,
        }

    @classmethod
    def from_config(cls, config: dict) -> "Translator":
        return cls(**backbone_from_config(config))

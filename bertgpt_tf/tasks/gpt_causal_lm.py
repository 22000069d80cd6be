"""GPTCausalLM: a `GPTDecoder` backbone with next-token loss and metrics."""

import keras

from bertgpt_tf.models.gpt_decoder import GPTDecoder
from bertgpt_tf.tasks.legacy_files import backbone_from_config
from bertgpt_tf.tasks.task_model import OwnLoss
from bertgpt_tf.tasks.weighted_token_loss import WeightedTokenLoss


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class GPTCausalLM(OwnLoss, keras.Model):
    """Causal-LM training model: `token_ids`, `padding_mask` -> next-token `logits`.

    Labels are the inputs shifted by one (the pipeline cuts windows of length + 1).
    The loss averages over real tokens of the global batch (`WeightedTokenLoss`);
    validation perplexity is `exp(val_loss)` (logged by `PerplexityLogger`).

    Args:
        backbone: a `GPTDecoder`.
    """

    def __init__(self, backbone: GPTDecoder, **kwargs):
        # === Layers ===
        self.backbone = backbone

        # === Functional Model ===
        inputs = dict(backbone.input)
        logits = backbone(inputs)["logits"]  # (batch, seq, vocabulary_size), float32
        super().__init__(inputs=inputs, outputs=logits, **kwargs)

    def compile_defaults(self) -> dict:
        return dict(
            loss=WeightedTokenLoss(),
            weighted_metrics=[keras.metrics.SparseCategoricalAccuracy("accuracy")],
        )

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.layers.serialize(self.backbone),
        }

    @classmethod
    def from_config(cls, config: dict) -> "GPTCausalLM":
        return cls(**backbone_from_config(config))

"""BertPretrainer: backbone (`BertEncoder`) + tied MLM head (+ NSP/SOP head), losses and metrics."""

import keras
import keras_hub

from bertgpt_tf.models.bert_encoder import ACTIVATIONS, BertEncoder, bert_kernel_initializer
from bertgpt_tf.tasks.legacy_files import backbone_from_config
from bertgpt_tf.tasks.task_model import OwnLoss
from bertgpt_tf.tasks.weighted_token_loss import WeightedTokenLoss


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class BertPretrainer(OwnLoss, keras.Model):
    """Masked-LM pretraining model over a `BertEncoder`.

    The MLM head gathers the `mask_positions` first and only then projects onto the
    vocabulary with the (tied) token embedding, so the costly vocabulary matmul runs on
    `max_predictions_per_seq` rows per sequence, not all `sequence_length`.

    Inputs: `token_ids`, `segment_ids`, `padding_mask` (batch, seq) and
    `mask_positions` (batch, max_predictions_per_seq).
    Outputs: `mlm` logits (batch, max_predictions_per_seq, vocabulary_size) and, unless
    `pair_objective="none"`, the pair logits (batch, 2) under the objective's name
    (`nsp` or `sop`). All outputs are float32, also under mixed precision.

    Args:
        backbone: a `BertEncoder`.
        pair_objective: "nsp" (BERT), "sop" (ALBERT) or "none" (RoBERTa).
        tie_word_embeddings: project onto the vocabulary with the token embedding
            (BERT) or with a matrix of its own. Tied, the softmax gradient of every
            vocabulary row flows into the input embeddings too; on a 30k vocabulary this
            keeps a small model on the "predict frequent words" plateau for thousands of
            steps, where an untied head leaves it within hundreds (README: "The MLM
            plateau"). The untied head costs `vocabulary_size * hidden_dim` parameters.
    """

    def __init__(
        self,
        backbone: BertEncoder,
        pair_objective: str = "nsp",
        tie_word_embeddings: bool = True,
        **kwargs,
    ):
        # === Layers ===
        self.backbone = backbone
        if tie_word_embeddings:
            projection = {"token_embedding": backbone.token_embedding}
        else:
            projection = {"vocabulary_size": backbone.vocabulary_size}
        self.mlm_head = keras_hub.layers.MaskedLMHead(
            **projection,
            intermediate_activation=ACTIVATIONS[backbone.activation],
            layer_norm_epsilon=backbone.layer_norm_epsilon,
            kernel_initializer=bert_kernel_initializer(),
            name="mlm_head",
        )
        self.pair_head = None
        if pair_objective == "none":  # nothing reads the pooler: it gets no gradient
            backbone.pooled_dense.trainable = False
        else:
            self.pair_head = keras.layers.Dense(
                2, kernel_initializer=bert_kernel_initializer(), name="pair_head"
            )

        # === Functional Model ===
        inputs = dict(backbone.input)
        inputs["mask_positions"] = keras.Input(shape=(None,), dtype="int32", name="mask_positions")
        encoded = backbone({k: inputs[k] for k in backbone.input})
        logits = self.mlm_head(encoded["sequence_output"], mask_positions=inputs["mask_positions"])
        outputs = {"mlm": keras.layers.Activation("linear", dtype="float32", name="mlm")(logits)}
        if self.pair_head is not None:
            pair_logits = self.pair_head(encoded["pooled_output"])
            outputs[pair_objective] = keras.layers.Activation(
                "linear", dtype="float32", name=pair_objective
            )(pair_logits)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.pair_objective = pair_objective
        self.tie_word_embeddings = tie_word_embeddings

    def compile_defaults(self) -> dict:
        """The pretraining losses; the MLM loss is averaged over the real masks."""
        loss = {"mlm": WeightedTokenLoss()}
        weighted_metrics = {"mlm": [keras.metrics.SparseCategoricalAccuracy("accuracy")]}
        metrics = None
        if self.pair_head is not None:
            loss[self.pair_objective] = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            metrics = {self.pair_objective: [keras.metrics.SparseCategoricalAccuracy("accuracy")]}
        return dict(loss=loss, weighted_metrics=weighted_metrics, metrics=metrics)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.layers.serialize(self.backbone),
            "pair_objective": self.pair_objective,
            "tie_word_embeddings": self.tie_word_embeddings,
        }

    @classmethod
    def from_config(cls, config: dict) -> "BertPretrainer":
        return cls(**backbone_from_config(config))

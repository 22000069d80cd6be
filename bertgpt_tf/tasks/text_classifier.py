"""TextClassifier: a backbone (`BertEncoder` or `GPTDecoder`) + a dense head on its
pooled output, for `classify` (num_classes logits) and `regress` (one score). The
parameter-efficient methods (freezing, LoRA) are in `bertgpt_tf.training.peft`; prompt
tuning (`prefix_length`) is built in here."""

import keras

from bertgpt_tf.config import POOLINGS
from bertgpt_tf.layers.pooling import LastTokenPooling, MeanPooling
from bertgpt_tf.layers.soft_prompt import SoftPrompt
from bertgpt_tf.models.bert_encoder import BertEncoder, bert_kernel_initializer
from bertgpt_tf.tasks.legacy_files import backbone_from_config
from bertgpt_tf.tasks.task_model import OwnLoss


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class TextClassifier(OwnLoss, keras.Model):
    """Sequence-level head over a `BertEncoder` ([CLS] pooler, or the mean of its token
    vectors) or a `GPTDecoder` (last-token pooling).

    Inputs: the backbone's: `token_ids`, `padding_mask` (batch, seq) and, for an
    encoder, `segment_ids`.
    Output: float32 logits (batch, num_classes); for `num_classes=1`, the regression
    score (batch, 1).

    Args:
        backbone: a `BertEncoder` (pretrained or fresh) or a pretrained `GPTDecoder`.
        num_classes: labels to classify into, or 1 for regression.
        dropout: dropout on the pooled output before the head.
        prefix_length: > 0: prompt tuning. That many learned vectors follow [CLS] into
            the encoder, which is frozen: only the prompt and the head train.
        pooling: what an encoder's head reads: "cls", its [CLS] pooler
            (`pooled_output`, BERT's), or "mean", the mean of its last layer's vectors
            over the real tokens. An encoder pretrained without a pair objective (the
            budget recipe) never trains its pooler nor its last [CLS] vector; the mean
            reads what MLM trained (docs/recipes.md).
    """

    backbone_output = "pooled_output"  # what the head reads (TokenClassifier: every position)

    def __init__(
        self,
        backbone: BertEncoder,
        num_classes: int,
        dropout: float = 0.1,
        prefix_length: int = 0,
        pooling: str = "cls",
        **kwargs,
    ):
        encoder = "segment_ids" in backbone.input
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be {'|'.join(POOLINGS)}, got {pooling!r}")
        if pooling != "cls":
            if self.backbone_output != "pooled_output":
                raise ValueError("--pooling is for classify/regress: a tagger reads every position")
            if prefix_length:
                raise ValueError("prompt tuning reads the [CLS] pooler: --pooling=cls")
            if not encoder:
                raise ValueError("a GPT decoder pools its last token: --pooling is for encoders")
        # === Layers ===
        self.backbone = backbone
        self.soft_prompt = None
        if prefix_length:
            if self.backbone_output != "pooled_output":
                raise ValueError("prefix_length (prompt tuning) is for classify/regress")
            self.soft_prompt = SoftPrompt(prefix_length, name="soft_prompt")
            backbone.trainable = False
        if encoder and (pooling == "mean" or self.backbone_output != "pooled_output"):
            backbone.pooled_dense.trainable = False  # unused: no gradient, not counted
        self.head_dropout = keras.layers.Dropout(dropout, name="head_dropout")
        self.head = keras.layers.Dense(
            num_classes, kernel_initializer=bert_kernel_initializer(), name="head"
        )

        # === Functional Model ===
        inputs = dict(backbone.input)
        if not encoder:  # a decoder
            if self.backbone_output != "pooled_output" or prefix_length:
                raise ValueError("a GPT decoder fine-tunes for classify/regress (full/LoRA/freeze)")
            sequence_output = backbone(inputs)["sequence_output"]
            features = LastTokenPooling(name="last_token")(sequence_output, inputs["padding_mask"])
        elif self.soft_prompt is not None:  # the encoder's layers, the prompt between
            x = backbone.embed(inputs["token_ids"], inputs["segment_ids"], inputs["padding_mask"])
            x = backbone.transform(*self.soft_prompt(x, inputs["padding_mask"]))
            features = backbone.pooled_dense(x[:, 0, :])
        elif pooling == "mean":
            sequence_output = backbone(inputs)["sequence_output"]
            features = MeanPooling(normalize=False, name="mean_pooling")(
                sequence_output, inputs["padding_mask"]
            )
        else:
            features = backbone(inputs)[self.backbone_output]
        logits = self.head(self.head_dropout(features))
        outputs = keras.layers.Activation("linear", dtype="float32", name="logits")(logits)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.dropout = dropout
        self.prefix_length = prefix_length
        self.pooling = pooling

    def compile_defaults(self) -> dict:
        """Cross-entropy on the logits and accuracy, or for one output (regression)
        squared error; both weighted by the batches' sample weights (class weights,
        NER's first-piece mask)."""
        if self.num_classes > 1:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            return dict(
                loss=loss, weighted_metrics=[keras.metrics.SparseCategoricalAccuracy("accuracy")]
            )
        return dict(
            loss=keras.losses.MeanSquaredError(),
            weighted_metrics=[keras.metrics.MeanSquaredError("mse")],
        )

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.saving.serialize_keras_object(self.backbone),
            "num_classes": self.num_classes,
            "dropout": self.dropout,
            "prefix_length": self.prefix_length,
            "pooling": self.pooling,
        }

    @classmethod
    def from_config(cls, config: dict):
        return cls(**backbone_from_config(config))

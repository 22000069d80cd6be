"""TextClassifier: a `BertEncoder` + a dense head on the pooled [CLS] output, for
`classify` (num_classes logits) and `regress` (one score) — plus the parameter-efficient
fine-tuning methods: freezing the bottom layers and LoRA."""

import os
import tempfile

import keras

from bertgpt_tf.models.bert_encoder import BertEncoder, bert_kernel_initializer


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class TextClassifier(keras.Model):
    """Sequence-level head over a `BertEncoder`.

    Inputs: `token_ids`, `segment_ids`, `padding_mask` (batch, seq).
    Output: float32 logits (batch, num_classes); for `num_classes=1`, the regression
    score (batch, 1).

    Args:
        encoder: a `BertEncoder` (pretrained or fresh).
        num_classes: labels to classify into, or 1 for regression.
        dropout: dropout on the pooled output before the head.
    """

    encoder_output = "pooled_output"  # what the head reads (TokenClassifier: every position)

    def __init__(self, encoder: BertEncoder, num_classes: int, dropout: float = 0.1, **kwargs):
        # === Layers ===
        self.encoder = encoder
        self.head_dropout = keras.layers.Dropout(dropout, name="head_dropout")
        self.head = keras.layers.Dense(
            num_classes, kernel_initializer=bert_kernel_initializer(), name="head"
        )

        # === Functional Model ===
        inputs = dict(encoder.input)
        features = encoder(inputs)[self.encoder_output]
        logits = self.head(self.head_dropout(features))
        outputs = keras.layers.Activation("linear", dtype="float32", name="logits")(logits)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.dropout = dropout

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "num_classes": self.num_classes,
            "dropout": self.dropout,
        }

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)


def _leaf_layers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    return [sub for sub in layer._flatten_layers(include_self=False) if not sub._layers]


def freeze_layers(encoder: BertEncoder, trainable_layers: int) -> None:
    """Trains only the top `trainable_layers` transformer layers (and the pooler) of
    `encoder`: embeddings and the layers below are frozen. 0 freezes the pooler too,
    leaving only the task head: a linear probe."""
    if not 0 <= trainable_layers <= encoder.num_layers:
        raise ValueError(
            f"freeze_layers={trainable_layers}: the encoder has {encoder.num_layers} layers"
        )
    frozen = [
        encoder.token_embedding, encoder.position_embedding, encoder.segment_embedding,
        encoder.embeddings_layer_norm,
        *encoder.transformer_layers[: encoder.num_layers - trainable_layers],
    ]  # fmt: skip
    if trainable_layers == 0:
        frozen.append(encoder.pooled_dense)
    for layer in frozen:
        layer.trainable = False


def enable_lora(encoder: BertEncoder, rank: int) -> None:
    """LoRA of `rank` on every attention (query/key/value/output) and feed-forward
    projection; everything else in the encoder is frozen except the pooler (part of
    the head). Keras' own `enable_lora` freezes each kernel and adds the low-rank pair."""
    projections = (keras.layers.Dense, keras.layers.EinsumDense)
    for block in encoder.transformer_layers:
        for layer in _leaf_layers(block):
            if isinstance(layer, projections):
                layer.enable_lora(rank)
                if layer.bias is not None:
                    layer.bias.trainable = False
            else:
                layer.trainable = False
    for layer in (
        encoder.token_embedding, encoder.position_embedding, encoder.segment_embedding,
        encoder.embeddings_layer_norm,
    ):  # fmt: skip
        layer.trainable = False


def merge_lora(model: keras.Model) -> keras.Model:
    """The same model without LoRA layers: Keras saves each LoRA kernel merged
    (W + B A * alpha / rank), so a fresh model from the config loads the merged weights.
    The export then runs one matmul per projection, as the un-adapted model does."""
    fresh = model.__class__.from_config(model.get_config())
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "merged.weights.h5")
        model.save_weights(path)
        fresh.load_weights(path)
    return fresh


def count_parameters(model: keras.Model) -> dict[str, int]:
    count = lambda weights: int(sum(keras.ops.size(w) for w in weights))  # noqa: E731
    return {
        "trainable": count(model.trainable_weights),
        "total": count(model.weights),
    }

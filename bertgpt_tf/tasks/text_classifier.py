"""TextClassifier: a `BertEncoder` + a dense head on the pooled [CLS] output, for
`classify` (num_classes logits) and `regress` (one score) — plus the parameter-efficient
fine-tuning methods: freezing the bottom layers, LoRA and prompt tuning."""

import os
import tempfile

import keras

from bertgpt_tf.models.bert_encoder import BertEncoder, bert_kernel_initializer


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class LastTokenPooling(keras.layers.Layer):
    """The vector of each row's last real token (right padding): a causal decoder's
    only position that has read the whole text."""

    def call(self, sequence_output, padding_mask):
        last = keras.ops.sum(keras.ops.cast(padding_mask, "int32"), axis=1) - 1
        last = keras.ops.maximum(last, 0)[:, None, None]
        return keras.ops.take_along_axis(sequence_output, last, axis=1)[:, 0, :]


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class SoftPrompt(keras.layers.Layer):
    """Inserts `prefix_length` learned vectors after the first position ([CLS]) of
    embedded inputs and widens the padding mask to match (prompt tuning, Lester et al.
    2021): the frozen encoder reads them as if they were tokens."""

    def __init__(self, prefix_length: int, **kwargs):
        super().__init__(**kwargs)
        self.prefix_length = prefix_length

    def build(self, embedded_shape, padding_mask_shape=None):
        self.prompt = self.add_weight(
            shape=(self.prefix_length, embedded_shape[-1]),
            initializer=bert_kernel_initializer(),
            name="prompt",
        )

    def call(self, embedded, padding_mask):
        batch = keras.ops.shape(embedded)[0]
        prompt = keras.ops.cast(self.prompt, embedded.dtype)[None]
        prompt = keras.ops.broadcast_to(prompt, (batch, self.prefix_length, prompt.shape[-1]))
        x = keras.ops.concatenate([embedded[:, :1], prompt, embedded[:, 1:]], axis=1)
        ones = keras.ops.ones((batch, self.prefix_length), padding_mask.dtype)
        mask = keras.ops.concatenate([padding_mask[:, :1], ones, padding_mask[:, 1:]], axis=1)
        return x, mask

    def compute_output_spec(self, embedded, padding_mask):
        def grown(spec):
            length = None if spec.shape[1] is None else spec.shape[1] + self.prefix_length
            return keras.KerasTensor((spec.shape[0], length, *spec.shape[2:]), spec.dtype)

        return grown(embedded), grown(padding_mask)

    def get_config(self) -> dict:
        return {**super().get_config(), "prefix_length": self.prefix_length}


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class TextClassifier(keras.Model):
    """Sequence-level head over a `BertEncoder` ([CLS] pooler) or a `GPTDecoder`
    (last-token pooling).

    Inputs: the backbone's: `token_ids`, `padding_mask` (batch, seq) and, for an
    encoder, `segment_ids`.
    Output: float32 logits (batch, num_classes); for `num_classes=1`, the regression
    score (batch, 1).

    Args:
        encoder: a `BertEncoder` (pretrained or fresh) or a pretrained `GPTDecoder`.
        num_classes: labels to classify into, or 1 for regression.
        dropout: dropout on the pooled output before the head.
        prefix_length: > 0: prompt tuning. That many learned vectors follow [CLS] into
            the encoder, which is frozen: only the prompt and the head train.
    """

    encoder_output = "pooled_output"  # what the head reads (TokenClassifier: every position)

    def __init__(
        self,
        encoder: BertEncoder,
        num_classes: int,
        dropout: float = 0.1,
        prefix_length: int = 0,
        **kwargs,
    ):
        # === Layers ===
        self.encoder = encoder
        self.soft_prompt = None
        if prefix_length:
            if self.encoder_output != "pooled_output":
                raise ValueError("prefix_length (prompt tuning) is for classify/regress")
            self.soft_prompt = SoftPrompt(prefix_length, name="soft_prompt")
            encoder.trainable = False
        self.head_dropout = keras.layers.Dropout(dropout, name="head_dropout")
        self.head = keras.layers.Dense(
            num_classes, kernel_initializer=bert_kernel_initializer(), name="head"
        )

        # === Functional Model ===
        inputs = dict(encoder.input)
        if "segment_ids" not in inputs:  # a decoder
            if self.encoder_output != "pooled_output" or prefix_length:
                raise ValueError("a GPT decoder fine-tunes for classify/regress (full/LoRA/freeze)")
            sequence_output = encoder(inputs)["sequence_output"]
            features = LastTokenPooling(name="last_token")(sequence_output, inputs["padding_mask"])
        elif self.soft_prompt is None:
            features = encoder(inputs)[self.encoder_output]
        else:  # the encoder's own layers, with the prompt between embedding and blocks
            x = encoder.embed(inputs["token_ids"], inputs["segment_ids"], inputs["padding_mask"])
            x = encoder.transform(*self.soft_prompt(x, inputs["padding_mask"]))
            features = encoder.pooled_dense(x[:, 0, :])
        logits = self.head(self.head_dropout(features))
        outputs = keras.layers.Activation("linear", dtype="float32", name="logits")(logits)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.dropout = dropout
        self.prefix_length = prefix_length

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "num_classes": self.num_classes,
            "dropout": self.dropout,
            "prefix_length": self.prefix_length,
        }

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        config["encoder"] = keras.saving.deserialize_keras_object(config["encoder"])
        return cls(**config)


def _leaf_layers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    return [sub for sub in layer._flatten_layers(include_self=False) if not sub._layers]


FINAL_NORMS = ("final_layer_norm", "layer_norm")  # pre-LN BertEncoder, GPTDecoder


def _embedding_layers(encoder) -> list[keras.layers.Layer]:
    """The input-side layers below the blocks, of a `BertEncoder` or a `GPTDecoder`."""
    names = ("token_embedding", "position_embedding", "segment_embedding",
             "embeddings_layer_norm", "embeddings_projection", "embeddings_conv")  # fmt: skip
    return [layer for name in names if (layer := getattr(encoder, name, None)) is not None]


def freeze_layers(encoder: BertEncoder, trainable_layers: int) -> None:
    """Trains only the top `trainable_layers` transformer layers (and the pooler) of
    `encoder`: embeddings and the layers below are frozen. 0 freezes the pooler too,
    leaving only the task head: a linear probe."""
    if not 0 <= trainable_layers <= encoder.num_layers:
        raise ValueError(
            f"freeze_layers={trainable_layers}: the encoder has {encoder.num_layers} layers"
        )
    if getattr(encoder, "share_layers", False) and 0 < trainable_layers < encoder.num_layers:
        raise ValueError(
            f"freeze_layers={trainable_layers}: the encoder shares one block across its"
            f" {encoder.num_layers} layers (ALBERT); use 0 (probe), {encoder.num_layers}"
            " or --lora_rank"
        )
    frozen = [
        *_embedding_layers(encoder),
        *encoder.transformer_layers[: encoder.num_layers - trainable_layers],
    ]
    if trainable_layers == 0:  # also the pooler and the final LayerNorm (pre-LN, GPT)
        frozen += [getattr(encoder, name, None) for name in ("pooled_dense", *FINAL_NORMS)]
    for layer in frozen:
        if layer is not None:
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
    for layer in _embedding_layers(encoder):
        layer.trainable = False
    for name in FINAL_NORMS:
        if getattr(encoder, name, None) is not None:
            getattr(encoder, name).trainable = False


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

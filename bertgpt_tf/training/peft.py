"""Parameter-efficient fine-tuning of a backbone (`BertEncoder` or `GPTDecoder`):
freezing all but the top layers, LoRA (and merging it back for export), and the
parameter count that shows what trains. Prompt tuning is a layer of its own
(`bertgpt_tf.layers.soft_prompt.SoftPrompt`), built in by
`TextClassifier(prefix_length=...)`, which freezes the backbone."""

import os
import tempfile

import keras

FINAL_NORMS = ("final_layer_norm", "layer_norm")  # pre-LN BertEncoder, GPTDecoder


def _leaf_layers(layer: keras.layers.Layer) -> list[keras.layers.Layer]:
    return [sub for sub in layer._flatten_layers(include_self=False) if not sub._layers]


def _embedding_layers(backbone) -> list[keras.layers.Layer]:
    """The input-side layers below the blocks, of a `BertEncoder` or a `GPTDecoder`."""
    names = ("token_embedding", "position_embedding", "segment_embedding",
             "embeddings_layer_norm", "embeddings_projection", "embeddings_conv")  # fmt: skip
    return [layer for name in names if (layer := getattr(backbone, name, None)) is not None]


def freeze_layers(backbone: keras.Model, trainable_layers: int) -> None:
    """Trains only the top `trainable_layers` transformer layers (and the pooler) of
    `backbone`: embeddings and the layers below are frozen. 0 freezes the pooler too,
    leaving only the task head: a linear probe."""
    if not 0 <= trainable_layers <= backbone.num_layers:
        raise ValueError(
            f"freeze_layers={trainable_layers}: the backbone has {backbone.num_layers} layers"
        )
    if getattr(backbone, "share_layers", False) and 0 < trainable_layers < backbone.num_layers:
        raise ValueError(
            f"freeze_layers={trainable_layers}: the encoder shares one block across its"
            f" {backbone.num_layers} layers (ALBERT); use 0 (probe), {backbone.num_layers}"
            " or --lora_rank"
        )
    frozen = [
        *_embedding_layers(backbone),
        *backbone.transformer_layers[: backbone.num_layers - trainable_layers],
    ]
    if trainable_layers == 0:  # also the pooler and the final LayerNorm (pre-LN, GPT)
        frozen += [getattr(backbone, name, None) for name in ("pooled_dense", *FINAL_NORMS)]
    for layer in frozen:
        if layer is not None:
            layer.trainable = False


def enable_lora(backbone: keras.Model, rank: int) -> None:
    """LoRA of `rank` on every attention (query/key/value/output) and feed-forward
    projection; everything else in the backbone is frozen except the pooler (part of
    the head). Keras' own `enable_lora` freezes each kernel and adds the low-rank pair."""
    projections = (keras.layers.Dense, keras.layers.EinsumDense)
    for block in backbone.transformer_layers:
        for layer in _leaf_layers(block):
            if isinstance(layer, projections):
                layer.enable_lora(rank)
                if layer.bias is not None:
                    layer.bias.trainable = False
            else:
                layer.trainable = False
    for layer in _embedding_layers(backbone):
        layer.trainable = False
    for name in FINAL_NORMS:
        if getattr(backbone, name, None) is not None:
            getattr(backbone, name).trainable = False


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

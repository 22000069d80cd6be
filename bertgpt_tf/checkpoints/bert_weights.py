"""Published BERT-family weights -> this project's `BertEncoder` / `BertPretrainer`.

Every format is first read into one form: a dict from Hugging Face BERT names
(`encoder.layer.0.attention.self.query.weight`, PyTorch orientation, no model prefix)
to numpy arrays. DistilBERT, ELECTRA, RoBERTa, ALBERT and Google's TensorFlow checkpoints are renamed
into it (`hf_names_from_*`), so one table (`weight_paths`) maps them all onto the Keras
weight paths of `BertPretrainer` (`transformer_layer_0/self_attention_layer/query/kernel`,
the same paths as `keras_hub.models.BertBackbone`).
"""

from __future__ import annotations

import re

import keras
import numpy as np

# HF BERT layer names -> our layer paths, per transformer block.
_BLOCK = {
    "attention.self.query": "self_attention_layer/query",
    "attention.self.key": "self_attention_layer/key",
    "attention.self.value": "self_attention_layer/value",
    "attention.output.dense": "self_attention_layer/attention_output",
    "attention.output.LayerNorm": "self_attention_layer_norm",
    "intermediate.dense": "feedforward_intermediate_dense",
    "output.dense": "feedforward_output_dense",
    "output.LayerNorm": "feedforward_layer_norm",
}
_TOP = {
    "embeddings.word_embeddings": "token_embedding",
    "embeddings.position_embeddings": "position_embedding",
    "embeddings.token_type_embeddings": "segment_embedding",
    "embeddings.LayerNorm": "embeddings_layer_norm",
    "embeddings_project": "embeddings_projection",
    "pooler.dense": "pooled_dense",
    "cls.predictions.transform.dense": "mlm_head/intermediate_dense",
    "cls.predictions.transform.LayerNorm": "mlm_head/intermediate_layer_norm",
    "cls.seq_relationship": "pair_head",
}
# Tensors a model does not need (tied copies, position id buffers, other heads).
_IGNORED = re.compile(
    r"(position_ids|cls\.predictions\.decoder\.weight|discriminator_predictions\..*|"
    r"generator_lm_head\.weight|vocab_projector\.weight|lm_head\.decoder\.(weight|bias)|"
    r"predictions\.decoder\.(weight|bias))$"
)


def weight_paths(hf_name: str) -> str | None:
    """Our weight path for an HF BERT tensor name (None: a tensor we do not load).

    >>> weight_paths("encoder.layer.2.attention.self.query.weight")
    'transformer_layer_2/self_attention_layer/query/kernel'
    """
    if _IGNORED.search(hf_name):
        return None
    if hf_name == "cls.predictions.bias":
        return "mlm_head/output_bias"
    layer, _, kind = hf_name.rpartition(".")
    match = re.fullmatch(r"encoder\.layer\.(\d+)\.(.+)", layer)
    if match:
        block = _BLOCK.get(match.group(2))
        path = block and f"transformer_layer_{match.group(1)}/{block}"
    else:
        path = _TOP.get(layer)
    if path is None:
        return None
    if path.endswith("_embedding"):
        return f"{path}/embeddings"
    if "LayerNorm" in layer:
        return f"{path}/{'gamma' if kind == 'weight' else 'beta'}"
    return f"{path}/{'kernel' if kind == 'weight' else 'bias'}"


def hf_names(tensors: dict[str, np.ndarray], model_type: str) -> dict[str, np.ndarray]:
    """An HF checkpoint's tensors under HF BERT names: the model prefix (`bert.`,
    `electra.`, `distilbert.`, `roberta.`) dropped, LayerNorm `gamma`/`beta` read as
    `weight`/`bias`, DistilBERT's, ELECTRA's and RoBERTa's layer names renamed to BERT's."""
    out = {}
    for name, value in tensors.items():
        name = re.sub(r"^(bert|electra|distilbert|roberta|albert)\.", "", name)
        name = re.sub(r"LayerNorm\.gamma$", "LayerNorm.weight", name)
        name = re.sub(r"LayerNorm\.beta$", "LayerNorm.bias", name)
        if model_type == "distilbert":
            name = _rename(name, _DISTILBERT)
        elif model_type == "electra":
            name = _rename(name, _ELECTRA)
        elif model_type == "roberta":
            name = _rename(name, _ROBERTA)
        elif model_type == "albert":
            name = _rename(name, _ALBERT)
        out[name] = value
    return out


_DISTILBERT = [
    (r"^transformer\.layer\.", "encoder.layer."),
    (r"\.attention\.q_lin\.", ".attention.self.query."),
    (r"\.attention\.k_lin\.", ".attention.self.key."),
    (r"\.attention\.v_lin\.", ".attention.self.value."),
    (r"\.attention\.out_lin\.", ".attention.output.dense."),
    (r"\.sa_layer_norm\.", ".attention.output.LayerNorm."),
    (r"\.ffn\.lin1\.", ".intermediate.dense."),
    (r"\.ffn\.lin2\.", ".output.dense."),
    (r"\.output_layer_norm\.", ".output.LayerNorm."),
    (r"^vocab_transform\.", "cls.predictions.transform.dense."),
    (r"^vocab_layer_norm\.", "cls.predictions.transform.LayerNorm."),
    (r"^vocab_projector\.bias$", "cls.predictions.bias"),
]
_ELECTRA = [
    (r"^generator_predictions\.dense\.", "cls.predictions.transform.dense."),
    (r"^generator_predictions\.LayerNorm\.", "cls.predictions.transform.LayerNorm."),
    (r"^generator_lm_head\.bias$", "cls.predictions.bias"),
]


_ROBERTA = [
    (r"^lm_head\.dense\.", "cls.predictions.transform.dense."),
    (r"^lm_head\.layer_norm\.", "cls.predictions.transform.LayerNorm."),
    (r"^lm_head\.bias$", "cls.predictions.bias"),
]


# ALBERT's one shared block (group 0, layer 0) is read as block 0; the importer moves it
# to the shared block's path.
_ALBERT = [
    (r"^encoder\.albert_layer_groups\.0\.albert_layers\.0\.", "encoder.layer.0."),
    (r"\.attention\.(query|key|value)\.", r".attention.self.\1."),
    (r"\.attention\.dense\.", ".attention.output.dense."),
    (r"\.attention\.LayerNorm\.", ".attention.output.LayerNorm."),
    (r"\.ffn\.", ".intermediate.dense."),
    (r"\.ffn_output\.", ".output.dense."),
    (r"\.full_layer_layer_norm\.", ".output.LayerNorm."),
    (r"^encoder\.embedding_hidden_mapping_in\.", "embeddings_project."),
    (r"^pooler\.", "pooler.dense."),
    (r"^predictions\.dense\.", "cls.predictions.transform.dense."),
    (r"^predictions\.LayerNorm\.", "cls.predictions.transform.LayerNorm."),
    (r"^predictions\.bias$", "cls.predictions.bias"),
    (r"^sop_classifier\.classifier\.", "cls.seq_relationship."),
]


def _rename(name: str, rules: list[tuple[str, str]]) -> str:
    for pattern, replacement in rules:
        name = re.sub(pattern, replacement, name)
    return name


def hf_names_from_google(tensors: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """google-research/bert TF1 checkpoint tensors (`bert/encoder/layer_0/.../kernel`,
    (in, out) kernels) under HF BERT names and orientation; optimizer slots and
    `global_step` are dropped."""
    out = {}
    for name, value in tensors.items():
        if name == "global_step" or re.search(r"adam_[mv]$|/Adam", name):
            continue
        hf = re.sub(r"layer_(\d+)", r"layer.\1", name.replace("/", "."))
        hf = re.sub(r"^bert\.", "", hf)
        if hf.endswith(".kernel"):
            hf, value = hf[: -len("kernel")] + "weight", np.transpose(value)
        hf = re.sub(r"\.gamma$", ".weight", hf)
        hf = re.sub(r"\.beta$", ".bias", hf)
        hf = re.sub(r"_embeddings$", "_embeddings.weight", hf)
        hf = {
            "cls.predictions.output_bias": "cls.predictions.bias",
            "cls.seq_relationship.output_weights": "cls.seq_relationship.weight",
            "cls.seq_relationship.output_bias": "cls.seq_relationship.bias",
        }.get(hf, hf)
        out[hf] = value
    return out


def keras_paths(tensors: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], list[str]]:
    """HF-named tensors -> ({our weight path: array}, HF names that map to nothing).
    Kernels are transposed from PyTorch's (out, in) to Keras' (in, out); tied copies and
    heads we have no use for are dropped silently."""
    out, unused = {}, []
    for name, value in tensors.items():
        path = weight_paths(name)
        if path is None:
            if not _IGNORED.search(name):
                unused.append(name)
            continue
        out[path] = np.transpose(value) if path.endswith("/kernel") else value
    return out, sorted(unused)


def assign_weights(model: keras.Model, tensors: dict[str, np.ndarray]) -> dict[str, list[str]]:
    """Copies `tensors` (by our weight path, Keras orientation) into `model`'s variables
    (a `BertPretrainer`, or a `BertEncoder`). Arrays are reshaped to the attention
    layers' (in, heads, head_dim) / (heads, head_dim, out); the position table is cut to
    the model's length.

    Returns {"loaded": paths set, "missing": the model's paths left at their initial
    values, "unused": paths the model does not have}. A size that does not fit raises
    ValueError naming both.
    """
    variables = {v.path: v for v in model.weights}  # keras-hub's paths: mlm_head/output_bias
    loaded, unused = [], []
    for path, value in tensors.items():
        variable = variables.get(path)
        if variable is None:
            unused.append(path)
            continue
        if path == "position_embedding/embeddings":
            value = value[: variable.shape[0]]
        if int(np.prod(value.shape)) != int(np.prod(variable.shape)):
            raise ValueError(
                f"checkpoint tensor {path} {tuple(value.shape)} does not fit the model's "
                f"{tuple(variable.shape)}"
            )
        variable.assign(np.reshape(value, variable.shape).astype(variable.dtype))
        loaded.append(path)
    missing = sorted(set(variables) - set(loaded))
    return {"loaded": sorted(loaded), "missing": missing, "unused": sorted(unused)}

"""Hugging Face GPT-2 weights -> this project's `GPTDecoder` (`GPTCausalLM`).

GPT-2 stores its projections as `Conv1D` (in, out) matrices and the query, key and
value of a block as one fused `c_attn` matrix; `GPTDecoder`'s blocks hold them as
separate per-head `EinsumDense` kernels (the same layout as keras-hub's `GPT2Backbone`).
"""

from __future__ import annotations

import re

import numpy as np

# GPT-2 names (no model prefix) -> our paths, per block; kernels are already (in, out).
_BLOCK = {
    "ln_1.weight": "attention_layer_norm/gamma",
    "ln_1.bias": "attention_layer_norm/beta",
    "ln_2.weight": "feedforward_layer_norm/gamma",
    "ln_2.bias": "feedforward_layer_norm/beta",
    "mlp.c_fc.weight": "intermediate/kernel",
    "mlp.c_fc.bias": "intermediate/bias",
    "mlp.c_proj.weight": "output/kernel",
    "mlp.c_proj.bias": "output/bias",
    "attn.c_proj.weight": "attention_output/kernel",
    "attn.c_proj.bias": "attention_output/bias",
}
_TOP = {
    "wte.weight": "token_embedding/embeddings",
    "wpe.weight": "position_embedding/embeddings",
    "ln_f.weight": "layer_norm/gamma",
    "ln_f.bias": "layer_norm/beta",
}
# Buffers and the tied output projection.
_IGNORED = re.compile(r"(attn\.bias|attn\.masked_bias|lm_head\.weight)$")


def gpt2_paths(tensors: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], list[str]]:
    """GPT-2 tensors (with or without the `transformer.` prefix) -> ({our weight path:
    array}, names that map to nothing). The fused `c_attn` is split into query, key and
    value; `assign_weights` reshapes kernels to the per-head shapes."""
    out, unused = {}, []
    for name, value in tensors.items():
        name = re.sub(r"^transformer\.", "", name)
        match = re.fullmatch(r"h\.(\d+)\.(.+)", name)
        if match and match.group(2) in ("attn.c_attn.weight", "attn.c_attn.bias"):
            kind = "kernel" if name.endswith("weight") else "bias"
            for part, piece in zip(
                ("query", "key", "value"), np.split(value, 3, axis=-1), strict=True
            ):
                out[f"transformer_layer_{match.group(1)}/{part}/{kind}"] = piece
            continue
        path = _TOP.get(name)
        if match and match.group(2) in _BLOCK:
            path = f"transformer_layer_{match.group(1)}/{_BLOCK[match.group(2)]}"
        if path is not None:
            out[path] = value
        elif not _IGNORED.search(name):
            unused.append(name)
    return out, sorted(unused)


def gpt2_sizes(config: dict, path: str) -> dict:
    """`GPTDecoder` fields from GPT-2's `config.json`; ValueError for what it cannot run."""
    activation = config.get("activation_function", "gelu_new")
    if activation not in ("gelu_new", "gelu_pytorch_tanh"):
        raise ValueError(
            f"{path}: activation_function {activation!r}: GPTDecoder runs GPT-2's tanh GELU"
        )
    if config.get("scale_attn_by_inverse_layer_idx") or config.get("reorder_and_upcast_attn"):
        raise ValueError(f"{path}: scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn")
    hidden = config["n_embd"]
    return dict(
        vocabulary_size=config["vocab_size"], num_layers=config["n_layer"],
        num_heads=config["n_head"], hidden_dim=hidden,
        intermediate_dim=config.get("n_inner") or 4 * hidden,
        max_sequence_length=config["n_positions"], position="learned", ffn="gelu",
        layer_norm_epsilon=float(config.get("layer_norm_epsilon", 1e-5)),
    )  # fmt: skip

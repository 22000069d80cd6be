"""Tiny random BERTs written in each published format from the same weights."""

import json
import os

import numpy as np
import tensorflow as tf

VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "the", "a", "cat", "dog",
              "sat", "on", "mat", "is", "##s", "good", "bad", "day", "night"]  # fmt: skip
SIZES = dict(vocabulary=len(VOCABULARY), hidden=8, layers=2, heads=2, intermediate=16, positions=32)


def bert_tensors(seed: int = 0, vocabulary_size: int = 0) -> dict[str, np.ndarray]:
    """A random BertForPreTraining in HF names and (out, in) orientation, with the MLM and
    NSP heads."""
    rng = np.random.default_rng(seed)
    v, h, i, p = SIZES["vocabulary"], SIZES["hidden"], SIZES["intermediate"], SIZES["positions"]
    v = vocabulary_size or v
    r = lambda *shape: rng.normal(0, 0.2, shape).astype(np.float32)  # noqa: E731
    t = {
        "bert.embeddings.word_embeddings.weight": r(v, h),
        "bert.embeddings.position_embeddings.weight": r(p, h),
        "bert.embeddings.token_type_embeddings.weight": r(2, h),
        "bert.embeddings.LayerNorm.weight": 1 + r(h),
        "bert.embeddings.LayerNorm.bias": r(h),
        "bert.pooler.dense.weight": r(h, h),
        "bert.pooler.dense.bias": r(h),
        "cls.predictions.transform.dense.weight": r(h, h),
        "cls.predictions.transform.dense.bias": r(h),
        "cls.predictions.transform.LayerNorm.weight": 1 + r(h),
        "cls.predictions.transform.LayerNorm.bias": r(h),
        "cls.predictions.bias": r(v),
        "cls.seq_relationship.weight": r(2, h),
        "cls.seq_relationship.bias": r(2),
    }
    for layer in range(SIZES["layers"]):
        prefix = f"bert.encoder.layer.{layer}."
        for name, shape in [
            ("attention.self.query", (h, h)), ("attention.self.key", (h, h)),
            ("attention.self.value", (h, h)), ("attention.output.dense", (h, h)),
            ("intermediate.dense", (i, h)), ("output.dense", (h, i)),
        ]:  # fmt: skip
            t[f"{prefix}{name}.weight"], t[f"{prefix}{name}.bias"] = r(*shape), r(shape[0])
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            t[f"{prefix}{norm}.weight"], t[f"{prefix}{norm}.bias"] = 1 + r(h), r(h)
    return t


def hf_config(vocabulary_size: int = 0) -> dict:
    return {
        "model_type": "bert", "vocab_size": vocabulary_size or SIZES["vocabulary"],
        "hidden_size": SIZES["hidden"],
        "num_hidden_layers": SIZES["layers"], "num_attention_heads": SIZES["heads"],
        "intermediate_size": SIZES["intermediate"], "hidden_act": "gelu",
        "max_position_embeddings": SIZES["positions"], "type_vocab_size": 2,
        "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1,
    }  # fmt: skip


def write_hf(directory: str, tensors: dict, config: dict, vocabulary=VOCABULARY) -> str:
    from safetensors.numpy import save_file

    os.makedirs(directory, exist_ok=True)
    save_file(tensors, os.path.join(directory, "model.safetensors"))
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f)
    with open(os.path.join(directory, "vocab.txt"), "w") as f:
        f.write("".join(token + "\n" for token in vocabulary))
    with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True}, f)
    return directory


def write_google(directory: str, tensors: dict) -> str:
    """The same weights as google-research/bert writes them: TF1 names, (in, out)
    kernels, `bert_config.json`, `bert_model.ckpt.{index,data-*}`, `vocab.txt`."""
    os.makedirs(directory, exist_ok=True)
    names, values = [], []
    for name, value in tensors.items():
        google = name.replace(".", "/").replace("LayerNorm/weight", "LayerNorm/gamma")
        google = google.replace("LayerNorm/bias", "LayerNorm/beta")
        google = google.replace("_embeddings/weight", "_embeddings")
        for index in range(SIZES["layers"]):
            google = google.replace(f"layer/{index}/", f"layer_{index}/")
        if google == "cls/predictions/bias":
            google = "cls/predictions/output_bias"
        elif google.startswith("cls/seq_relationship/"):
            google = google.replace("/weight", "/output_weights").replace("/bias", "/output_bias")
        elif google.endswith("/weight"):
            google, value = google[: -len("weight")] + "kernel", value.T
        names.append(google)
        values.append(tf.constant(value))
    names.append("global_step")
    values.append(tf.constant(1000, tf.int64))
    tf.raw_ops.SaveV2(
        prefix=os.path.join(directory, "bert_model.ckpt"), tensor_names=names,
        shape_and_slices=[""] * len(names), tensors=values,
    )  # fmt: skip
    config = {k: v for k, v in hf_config().items() if k != "model_type"}
    with open(os.path.join(directory, "bert_config.json"), "w") as f:
        json.dump(config, f)
    with open(os.path.join(directory, "vocab.txt"), "w") as f:
        f.write("".join(token + "\n" for token in VOCABULARY))
    return directory

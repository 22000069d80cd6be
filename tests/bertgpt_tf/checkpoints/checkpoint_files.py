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


# === Byte-level BPE checkpoints (RoBERTa, GPT-2) ===
BPE_TEXT = [
    "The cat sat on the mat. The dog is good; the night is bad!",
    "Héllo wörld 🙂 — naïve café, 日本語 and 123 numbers\nnew line",
] * 20


def write_byte_bpe(directory: str, special_tokens: list[str], vocabulary_size: int = 300) -> int:
    """`vocab.json` + `merges.txt` + `tokenizer.json` of a byte-level BPE trained by
    Hugging Face `tokenizers` on `BPE_TEXT`; returns the vocabulary size."""
    from tokenizers import ByteLevelBPETokenizer

    os.makedirs(directory, exist_ok=True)
    tokenizer = ByteLevelBPETokenizer()
    tokenizer.train_from_iterator(
        BPE_TEXT, vocab_size=vocabulary_size, special_tokens=special_tokens, show_progress=False
    )
    tokenizer.save_model(directory)
    tokenizer.save(os.path.join(directory, "tokenizer.json"))
    return tokenizer.get_vocab_size()


def roberta_tensors(vocabulary_size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A random RobertaForMaskedLM (HF names): BERT's blocks under `roberta.`, a position
    table 2 rows longer (fairseq's padding offset), one token-type row (zero, as HF's
    conversion of fairseq's RoBERTa leaves it), an `lm_head`, no pooler."""
    bert = bert_tensors(seed, vocabulary_size)
    t = {}
    for name, value in bert.items():
        if name.startswith(("cls.seq_relationship", "bert.pooler")):
            continue
        name = name.replace("bert.", "roberta.", 1)
        name = name.replace("cls.predictions.transform.dense", "lm_head.dense")
        name = name.replace("cls.predictions.transform.LayerNorm", "lm_head.layer_norm")
        name = name.replace("cls.predictions.bias", "lm_head.bias")
        t[name] = value
    h = SIZES["hidden"]
    t["roberta.embeddings.position_embeddings.weight"] = (
        np.random.default_rng(seed + 1)
        .normal(0, 0.2, (SIZES["positions"] + 2, h))
        .astype(np.float32)
    )
    t["roberta.embeddings.token_type_embeddings.weight"] = np.zeros((1, h), np.float32)
    t["lm_head.decoder.weight"] = t["roberta.embeddings.word_embeddings.weight"]
    t["lm_head.decoder.bias"] = t["lm_head.bias"]
    return t


def roberta_config(vocabulary_size: int) -> dict:
    return {
        **hf_config(vocabulary_size), "model_type": "roberta", "type_vocab_size": 1,
        "max_position_embeddings": SIZES["positions"] + 2, "layer_norm_eps": 1e-5,
        "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
    }  # fmt: skip


def write_hf_roberta(directory: str, seed: int = 0) -> str:
    from safetensors.numpy import save_file

    size = write_byte_bpe(directory, ["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    save_file(roberta_tensors(size, seed), os.path.join(directory, "model.safetensors"))
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(roberta_config(size), f)
    return directory


def gpt2_tensors(vocabulary_size: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A random GPT2LMHeadModel (HF names: `transformer.` prefix, Conv1D (in, out)
    matrices, fused `c_attn`, the causal-mask buffer, a tied `lm_head`)."""
    rng = np.random.default_rng(seed)
    h, p = SIZES["hidden"], SIZES["positions"]
    i = 4 * h  # GPT-2's n_inner=None (keras-hub's converter assumes it)
    r = lambda *shape: rng.normal(0, 0.2, shape).astype(np.float32)  # noqa: E731
    t = {"transformer.wte.weight": r(vocabulary_size, h), "transformer.wpe.weight": r(p, h),
         "transformer.ln_f.weight": 1 + r(h), "transformer.ln_f.bias": r(h)}  # fmt: skip
    for layer in range(SIZES["layers"]):
        prefix = f"transformer.h.{layer}."
        for name, shape in [("attn.c_attn", (h, 3 * h)), ("attn.c_proj", (h, h)),
                            ("mlp.c_fc", (h, i)), ("mlp.c_proj", (i, h))]:  # fmt: skip
            t[f"{prefix}{name}.weight"], t[f"{prefix}{name}.bias"] = r(*shape), r(shape[1])
        for norm in ("ln_1", "ln_2"):
            t[f"{prefix}{norm}.weight"], t[f"{prefix}{norm}.bias"] = 1 + r(h), r(h)
        t[f"{prefix}attn.bias"] = np.tril(np.ones((p, p), np.float32))[None, None]
    t["lm_head.weight"] = t["transformer.wte.weight"]
    return t


def write_hf_gpt2(directory: str, seed: int = 0) -> str:
    from safetensors.numpy import save_file

    size = write_byte_bpe(directory, ["<|endoftext|>"])
    save_file(gpt2_tensors(size, seed), os.path.join(directory, "model.safetensors"))
    config = {
        "model_type": "gpt2", "vocab_size": size, "n_embd": SIZES["hidden"],
        "n_layer": SIZES["layers"], "n_head": SIZES["heads"], "n_inner": None,
        "n_positions": SIZES["positions"], "activation_function": "gelu_new",
        "layer_norm_epsilon": 1e-5, "resid_pdrop": 0.1,
    }  # fmt: skip
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f)
    return directory


# === ALBERT (SentencePiece) ===
def write_spiece(directory: str, vocabulary_size: int = 40) -> int:
    """An ALBERT-style `spiece.model` (unigram; <pad> 0, <unk> 1, [CLS] 2, [SEP] 3,
    [MASK] 4) trained on lower-cased `BPE_TEXT`; returns its size."""
    import sentencepiece

    os.makedirs(directory, exist_ok=True)
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter([line.lower() for line in BPE_TEXT]),
        model_prefix=os.path.join(directory, "spiece"), model_type="unigram",
        vocab_size=vocabulary_size, pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
        user_defined_symbols=["[CLS]", "[SEP]", "[MASK]"], minloglevel=2,
    )  # fmt: skip
    return vocabulary_size


def albert_tensors(vocabulary_size: int, embedding: int = 4, seed: int = 0) -> dict:
    """A random AlbertForPreTraining (HF names): factorized embeddings (width
    `embedding`), one shared block, the MLM head and the sentence-order head."""
    rng = np.random.default_rng(seed)
    h, i, p, e = SIZES["hidden"], SIZES["intermediate"], SIZES["positions"], embedding
    r = lambda *shape: rng.normal(0, 0.2, shape).astype(np.float32)  # noqa: E731
    t = {
        "albert.embeddings.word_embeddings.weight": r(vocabulary_size, e),
        "albert.embeddings.position_embeddings.weight": r(p, e),
        "albert.embeddings.token_type_embeddings.weight": r(2, e),
        "albert.embeddings.LayerNorm.weight": 1 + r(e), "albert.embeddings.LayerNorm.bias": r(e),
        "albert.encoder.embedding_hidden_mapping_in.weight": r(h, e),
        "albert.encoder.embedding_hidden_mapping_in.bias": r(h),
        "albert.pooler.weight": r(h, h), "albert.pooler.bias": r(h),
        "predictions.dense.weight": r(e, h), "predictions.dense.bias": r(e),
        "predictions.LayerNorm.weight": 1 + r(e), "predictions.LayerNorm.bias": r(e),
        "predictions.bias": r(vocabulary_size), "sop_classifier.classifier.weight": r(2, h),
        "sop_classifier.classifier.bias": r(2),
    }  # fmt: skip
    t["predictions.decoder.weight"] = t["albert.embeddings.word_embeddings.weight"]
    t["predictions.decoder.bias"] = t["predictions.bias"]
    prefix = "albert.encoder.albert_layer_groups.0.albert_layers.0."
    for name, shape in [("attention.query", (h, h)), ("attention.key", (h, h)),
                        ("attention.value", (h, h)), ("attention.dense", (h, h)),
                        ("ffn", (i, h)), ("ffn_output", (h, i))]:  # fmt: skip
        t[f"{prefix}{name}.weight"], t[f"{prefix}{name}.bias"] = r(*shape), r(shape[0])
    for norm in ("attention.LayerNorm", "full_layer_layer_norm"):
        t[f"{prefix}{norm}.weight"], t[f"{prefix}{norm}.bias"] = 1 + r(h), r(h)
    return t


def write_hf_albert(directory: str, seed: int = 0) -> str:
    from safetensors.numpy import save_file

    size = write_spiece(directory)
    save_file(albert_tensors(size, seed=seed), os.path.join(directory, "model.safetensors"))
    config = {
        **hf_config(size), "model_type": "albert", "embedding_size": 4, "hidden_act": "gelu_new",
        "num_hidden_groups": 1, "inner_group_num": 1, "attention_probs_dropout_prob": 0.0,
    }  # fmt: skip
    with open(os.path.join(directory, "config.json"), "w") as f:
        json.dump(config, f)
    with open(os.path.join(directory, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "keep_accents": False}, f)
    return directory

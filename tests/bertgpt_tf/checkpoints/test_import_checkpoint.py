"""Importing published checkpoints: parity with keras-hub and between formats, heads,
and clear refusals."""

import json
import os

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf

from bertgpt_tf.checkpoints.import_checkpoint import (
    build_pretrainer,
    detect_format,
    import_checkpoint,
    read_checkpoint,
)
from bertgpt_tf.tokenizers.segment_packer import encode_texts
from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer
from tests.bertgpt_tf.checkpoints.checkpoint_files import (
    SIZES,
    VOCABULARY,
    bert_tensors,
    hf_config,
    write_google,
    write_hf,
)

SENTENCES = [
    "it 's a charming and often affecting journey .",
    "A man is playing a guitar on the street in Zürich!",
    "the capital of france is paris.",
]


def keras_hub_exact_gelu(backbone):
    """keras-hub's BertBackbone uses the tanh GELU approximation; BERT's config says
    "gelu" (erf), which is what BertEncoder runs. Same weights, same function."""
    for i in range(backbone.num_layers):
        layer = backbone.get_layer(f"transformer_layer_{i}")
        layer._feedforward_intermediate_dense.activation = keras.activations.gelu
    return backbone


def encoder_inputs(checkpoint, texts, length=32):
    tokenizer = WordPieceTokenizer(
        checkpoint.vocabulary, checkpoint.lower_case, normalization="bert"
    )
    return encode_texts(tokenizer, tf.constant(texts), None, length, static=False)


def test_minilm_sequence_output_equals_keras_hub(minilm_dir):
    checkpoint = read_checkpoint(minilm_dir)
    assert (checkpoint.format, checkpoint.model_type) == ("hf", "bert")
    assert checkpoint.sizes["num_layers"] == 6 and checkpoint.sizes["hidden_dim"] == 384
    assert len(checkpoint.vocabulary) == 30522 and checkpoint.lower_case
    assert not checkpoint.has_mlm_head  # sentence-transformers ships BertModel only
    model, report = build_pretrainer(checkpoint)
    assert report["unused"] == [] and all(p.startswith("mlm_head") for p in report["missing"])
    inputs = encoder_inputs(checkpoint, SENTENCES)
    ours = model.backbone(inputs)["sequence_output"].numpy()
    reference = keras_hub.models.BertBackbone.from_preset(minilm_dir)
    tanh_gelu = reference(inputs)["sequence_output"].numpy()
    theirs = keras_hub_exact_gelu(reference)(inputs)["sequence_output"].numpy()
    real = inputs["padding_mask"].numpy().astype(bool)
    assert np.abs(ours - theirs)[real].max() <= 1e-4
    # The GELU difference is real and visible: the test would notice a swapped activation.
    assert np.abs(ours - tanh_gelu)[real].max() > 1e-4


def test_google_and_hf_checkpoints_of_the_same_weights_import_identically(tmp_path):
    tensors = bert_tensors()
    hf = read_checkpoint(write_hf(str(tmp_path / "hf"), tensors, hf_config()))
    google = read_checkpoint(write_google(str(tmp_path / "google"), tensors))
    assert detect_format(str(tmp_path / "google")) == "google"
    assert google.has_mlm_head and google.has_pair_head and google.lower_case
    hf_model, hf_report = build_pretrainer(hf)
    google_model, google_report = build_pretrainer(google)
    assert hf_report["missing"] == google_report["missing"] == []  # heads included
    for a, b in zip(hf_model.weights, google_model.weights, strict=True):
        assert a.path == b.path and np.array_equal(a.numpy(), b.numpy()), a.path
    # Against keras-hub reading the same HF directory: the mapping itself is right.
    inputs = encoder_inputs(hf, ["the cat sat on the mat .", "a dog"], length=12)
    reference = keras_hub_exact_gelu(
        keras_hub.models.BertBackbone.from_preset(str(tmp_path / "hf"))
    )
    np.testing.assert_allclose(
        hf_model.backbone(inputs)["pooled_output"], reference(inputs)["pooled_output"], atol=1e-5
    )
    # The MLM head, against numpy on the published formula (dense, GELU, LayerNorm, tied).
    sequence = hf_model.backbone(inputs)["sequence_output"].numpy()[:, 1]  # position 1
    x = sequence @ tensors["cls.predictions.transform.dense.weight"].T
    x = keras.ops.gelu(x + tensors["cls.predictions.transform.dense.bias"], approximate=False)
    x = np.asarray(x)
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)
    x = (x - mean) / np.sqrt(var + 1e-12) * tensors["cls.predictions.transform.LayerNorm.weight"]
    x = x + tensors["cls.predictions.transform.LayerNorm.bias"]
    expected = (
        x @ tensors["bert.embeddings.word_embeddings.weight"].T + tensors["cls.predictions.bias"]
    )
    positions = tf.ones((2, 1), tf.int32)
    logits = hf_model({**inputs, "mask_positions": positions})["mlm"].numpy()[:, 0]
    np.testing.assert_allclose(logits, expected, atol=1e-4)


def test_keras_hub_preset_imports_with_its_vocabulary(tmp_path):
    hf_dir = write_hf(str(tmp_path / "hf"), bert_tensors(1), hf_config())
    backbone = keras_hub.models.BertBackbone.from_preset(hf_dir)
    preset = str(tmp_path / "preset")
    backbone.save_to_preset(preset)
    keras_hub.models.BertTokenizer(vocabulary=VOCABULARY, lowercase=True).save_to_preset(preset)
    assert detect_format(preset) == "keras_hub"
    checkpoint = read_checkpoint(preset)
    assert checkpoint.vocabulary == VOCABULARY and checkpoint.lower_case
    model, report = build_pretrainer(checkpoint)
    assert not [p for p in report["missing"] if not p.startswith("mlm_head")]
    inputs = encoder_inputs(checkpoint, ["the dog sat .", "good night"], length=10)
    np.testing.assert_allclose(
        model.backbone(inputs)["sequence_output"],
        keras_hub_exact_gelu(backbone)(inputs)["sequence_output"],
        atol=1e-5,
    )


def test_distilbert_and_electra_names_map_onto_the_encoder(tmp_path):
    tensors = bert_tensors(2)
    renames = {
        "attention.self.query": "attention.q_lin", "attention.self.key": "attention.k_lin",
        "attention.self.value": "attention.v_lin", "attention.output.dense": "attention.out_lin",
        "attention.output.LayerNorm": "sa_layer_norm", "intermediate.dense": "ffn.lin1",
        "output.dense": "ffn.lin2", "output.LayerNorm": "output_layer_norm",
    }  # fmt: skip
    distil = {}
    for name, value in tensors.items():
        if "token_type" in name or "pooler" in name or name.startswith("cls.seq"):
            continue
        name = name.replace("bert.encoder.layer.", "distilbert.transformer.layer.")
        name = name.replace("bert.embeddings.", "distilbert.embeddings.")
        for old, new in renames.items():
            name = name.replace(f".{old}.", f".{new}.")
        name = name.replace("cls.predictions.transform.dense.", "vocab_transform.")
        name = name.replace("cls.predictions.transform.LayerNorm.", "vocab_layer_norm.")
        name = name.replace("cls.predictions.bias", "vocab_projector.bias")
        distil[name] = value
    config = {
        "model_type": "distilbert", "vocab_size": SIZES["vocabulary"], "dim": SIZES["hidden"],
        "n_layers": SIZES["layers"], "n_heads": SIZES["heads"],
        "hidden_dim": SIZES["intermediate"], "max_position_embeddings": SIZES["positions"],
        "activation": "gelu",
    }  # fmt: skip
    checkpoint = read_checkpoint(write_hf(str(tmp_path / "distil"), distil, config))
    assert checkpoint.unused == [] and checkpoint.has_mlm_head
    model, report = build_pretrainer(checkpoint)
    assert report["missing"] == ["pooled_dense/bias", "pooled_dense/kernel"]  # none published
    bert, _ = build_pretrainer(
        read_checkpoint(write_hf(str(tmp_path / "bert"), tensors, hf_config()))
    )
    bert.backbone.segment_embedding.embeddings.assign(np.zeros((2, SIZES["hidden"])))
    inputs = encoder_inputs(checkpoint, ["the cat is good ."], length=8)
    np.testing.assert_allclose(
        model.backbone(inputs)["sequence_output"],
        bert.backbone(inputs)["sequence_output"],
        atol=1e-6,
    )
    # ELECTRA: the discriminator's narrower embeddings are projected up.
    electra = {k.replace("bert.", "electra."): v for k, v in tensors.items() if "pooler" not in k}
    electra = {k: v for k, v in electra.items() if not k.startswith("cls.")}
    width = 4
    for name in ("word", "position", "token_type"):
        key = f"electra.embeddings.{name}_embeddings.weight"
        electra[key] = electra[key][:, :width]
    for part in ("weight", "bias"):
        electra[f"electra.embeddings.LayerNorm.{part}"] = electra[
            f"electra.embeddings.LayerNorm.{part}"
        ][:width]
    electra["electra.embeddings_project.weight"] = np.ones((SIZES["hidden"], width), np.float32)
    electra["electra.embeddings_project.bias"] = np.arange(SIZES["hidden"], dtype=np.float32)
    electra["discriminator_predictions.dense.weight"] = np.ones(
        (SIZES["hidden"], SIZES["hidden"]), np.float32
    )
    config = {**hf_config(), "model_type": "electra", "embedding_size": width}
    checkpoint = read_checkpoint(write_hf(str(tmp_path / "electra"), electra, config))
    assert checkpoint.sizes["embedding_dim"] == width and checkpoint.unused == []
    model, report = build_pretrainer(checkpoint)
    assert [p for p in report["missing"] if not p.startswith("mlm_head")] == [
        "pooled_dense/bias", "pooled_dense/kernel"
    ]  # fmt: skip
    np.testing.assert_array_equal(
        model.backbone.embeddings_projection.bias.numpy(),
        np.arange(SIZES["hidden"]),
    )


def test_refusals_name_the_problem(tmp_path, minilm_dir):
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text(json.dumps(hf_config()))
    (pickled / "pytorch_model.bin").write_bytes(b"\x80\x02")
    with pytest.raises(ValueError, match="pickle.*arbitrary code.*safetensors"):
        detect_format(str(pickled))
    with pytest.raises(
        ValueError, match="not a recognised checkpoint; looked for run: .*hf: .*google: "
    ):
        detect_format(str(tmp_path))
    xlmr = write_hf(str(tmp_path / "xlmr"), {}, {**hf_config(), "model_type": "xlm-roberta"})
    with pytest.raises(
        ValueError, match="model_type 'xlm-roberta' cannot be imported: its SentencePiece"
    ):
        read_checkpoint(xlmr)
    with pytest.raises(FileNotFoundError):
        detect_format(str(tmp_path / "absent"))


def test_import_writes_a_run_dir_other_tasks_accept(tmp_path):
    hf_dir = write_hf(str(tmp_path / "hf"), bert_tensors(3), hf_config())
    run_dir = import_checkpoint(hf_dir, str(tmp_path / "run"))
    assert detect_format(run_dir) == "run"
    with open(os.path.join(run_dir, "config.json")) as f:
        config = json.load(f)
    assert config["train"]["task"] == "mlm" and config["data"]["normalization"] == "bert"
    assert (
        config["model"]["hidden_dim"] == SIZES["hidden"]
        and config["data"]["pair_objective"] == "nsp"
    )
    with open(os.path.join(run_dir, "import.json")) as f:
        manifest = json.load(f)
    assert manifest["mlm_head"] and manifest["format"] == "hf" and manifest["missing"] == []
    reloaded = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    original, _ = build_pretrainer(read_checkpoint(hf_dir))
    for a, b in zip(original.weights, reloaded.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())

"""RoBERTa and GPT-2 checkpoints (byte-level BPE): the in-graph tokenizer against Hugging
Face `tokenizers` on real text, and imported weights against keras-hub's own converters."""

import json
import os

import keras
import keras_hub
import numpy as np
import pytest
import tensorflow as tf
from tokenizers import ByteLevelBPETokenizer, Tokenizer

from bertgpt_tf.checkpoints.import_checkpoint import (
    build_pretrainer,
    import_checkpoint,
    read_checkpoint,
)
from bertgpt_tf.config import Config
from bertgpt_tf.tokenizers.byte_bpe_tokenizer import GPT2Tokenizer, RobertaTokenizer
from bertgpt_tf.tokenizers.load_tokenizer import load_tokenizer
from bertgpt_tf.tokenizers.segment_packer import encode_texts
from tests.bertgpt_tf.checkpoints.checkpoint_files import (
    roberta_tensors,
    write_hf_gpt2,
    write_hf_roberta,
)
from tests.real_text import sample_lines

TEXTS = ["The cat sat on the mat.", "Héllo wörld 🙂 — naïve café, 日本語\nnew line  x"]


def test_byte_bpe_ids_equal_hf_tokenizers_on_real_text(tmp_path):
    """1,704 lines (SST-2, ChnSentiCorp, Multi30k German, Wikipedia, Gutenberg, and the
    constructed accents / CJK / emoji / 150-character words / control characters): the
    same ids as `tokenizers` on the same files for every line but the one with a NUL,
    which we read as U+FFFD (TF-Text's regex split cuts strings at NUL); lossless
    round trip for the others."""
    lines = sample_lines()
    reference = ByteLevelBPETokenizer()
    special = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    reference.train_from_iterator(lines, vocab_size=2000, special_tokens=special,
                                  show_progress=False)  # fmt: skip
    reference.save_model(str(tmp_path))
    reference.save(str(tmp_path / "tokenizer.json"))
    ours = load_tokenizer("byte_bpe", str(tmp_path / "vocab.json"))
    assert isinstance(ours, RobertaTokenizer) and ours.vocabulary_size == 2000
    dataset = tf.data.Dataset.from_tensor_slices(lines).batch(256).map(ours.tokenize)
    got = [row for batch in dataset for row in batch.to_list()]
    expected = [
        e.ids for e in Tokenizer.from_file(str(tmp_path / "tokenizer.json")).encode_batch(lines)
    ]
    differ = [line for line, a, b in zip(lines, expected, got, strict=True) if a != b]
    assert len(lines) > 1500 and differ == [line for line in lines if "\x00" in line]
    nul = differ[0]
    assert got[lines.index(nul)] == reference.encode(nul.replace("\x00", "\ufffd")).ids
    back = ours.detokenize(ours.tokenize(tf.constant(lines))).numpy()
    assert [b.decode() for b in back] == [line.replace("\x00", "\ufffd") for line in lines]


def test_roberta_sequence_output_equals_keras_hub(tmp_path):
    """Random RoBERTa weights in HF layout: our import (position offset 2, one segment
    row, eps 1e-5) and keras-hub's `RobertaBackbone.from_preset` agree on every real
    token; `<s> a </s>` packing from our tokenizer; "[MASK]" typed in text is `<mask>`."""
    hf_dir = write_hf_roberta(str(tmp_path / "roberta"))
    checkpoint = read_checkpoint(hf_dir)
    assert (checkpoint.tokenizer, checkpoint.sizes["layer_norm_epsilon"]) == ("byte_bpe", 1e-5)
    model, report = build_pretrainer(checkpoint)
    assert report["missing"] == ["pooled_dense/bias", "pooled_dense/kernel"]  # RobertaForMaskedLM
    assert report["unused"] == [] and checkpoint.unused == []
    tokenizer = RobertaTokenizer(os.path.join(hf_dir, "vocab.json"))
    inputs = encode_texts(tokenizer, tf.constant(TEXTS), None, 32, static=False)
    ids = inputs["token_ids"].numpy()
    assert ids[0, 0] == tokenizer.cls_id == 0 and tokenizer.pad_id == 1 and tokenizer.sep_id == 2
    real = inputs["padding_mask"].numpy().astype(bool)
    reference = keras_hub.models.RobertaBackbone.from_preset(hf_dir)
    expected = reference({"token_ids": ids, "padding_mask": real.astype("int32")}).numpy()
    ours = model.backbone(inputs)["sequence_output"].numpy()
    assert np.abs(ours - expected)[real].max() <= 1e-5
    typed = tokenizer.tokenize(tf.constant(["the [MASK] sat", "the <mask> sat"])).to_list()
    assert typed[0] == typed[1] and typed[0].count(tokenizer.mask_id) == 1


def test_roberta_token_type_row_is_added_as_hugging_face_adds_it(tmp_path):
    """A nonzero token-type row (HF adds it to every token) shifts the embeddings by it,
    for both segments of a pair."""
    hf_dir = write_hf_roberta(str(tmp_path / "roberta"))
    checkpoint = read_checkpoint(hf_dir)
    row = checkpoint.tensors["segment_embedding/embeddings"]
    assert row.shape[0] == 2 and np.array_equal(row[0], row[1])
    tensors = roberta_tensors(checkpoint.sizes["vocabulary_size"])
    assert np.array_equal(
        checkpoint.tensors["position_embedding/embeddings"],
        tensors["roberta.embeddings.position_embeddings.weight"][2:],
    )


def test_gpt2_equals_keras_hub_and_imports_as_a_clm_run(tmp_path):
    """Random GPT-2 weights (fused c_attn, Conv1D matrices, `transformer.` prefix): our
    `GPTDecoder` equals keras-hub's `GPT2Backbone.from_preset`; the import writes a clm
    run (byte_bpe tokenizer, vocab.json + merges.txt) whose model reloads unchanged."""
    hf_dir = write_hf_gpt2(str(tmp_path / "gpt2"))
    checkpoint = read_checkpoint(hf_dir)
    model, report = build_pretrainer(checkpoint)
    assert report["missing"] == [] and report["unused"] == [] and checkpoint.unused == []
    tokenizer = GPT2Tokenizer(os.path.join(hf_dir, "vocab.json"))
    ids = tokenizer.tokenize(tf.constant(TEXTS)).to_tensor(tokenizer.pad_id)[:, :32]
    inputs = {"token_ids": ids, "padding_mask": tf.ones_like(ids)}
    expected = keras_hub.models.GPT2Backbone.from_preset(hf_dir)(inputs).numpy()
    ours = model.backbone(inputs)
    assert np.abs(ours["sequence_output"].numpy() - expected).max() <= 1e-5
    run_dir = import_checkpoint(hf_dir, str(tmp_path / "run"))
    config = Config.from_json(os.path.join(run_dir, "config.json"))
    assert (config.train.task, config.data.tokenizer, config.model.layer_norm_epsilon) == (
        "clm",
        "byte_bpe",
        1e-5,
    )
    assert sorted(os.listdir(run_dir)) == [
        "config.json", "import.json", "merges.txt", "model.keras", "vocab.json"
    ]  # fmt: skip
    with open(os.path.join(run_dir, "import.json")) as f:
        assert json.load(f)["model_type"] == "gpt2"
    reloaded = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    np.testing.assert_allclose(
        reloaded.backbone(inputs)["logits"].numpy(), ours["logits"].numpy(), atol=1e-6
    )


# gpt2 by default; roberta (~80 s, the same byte-level BPE serving path) with `-m slow`
@pytest.mark.parametrize("kind", [pytest.param("roberta", marks=pytest.mark.slow), "gpt2"])
def test_imported_byte_bpe_runs_serve_raw_text(kind, tmp_path, assert_servable):
    """`--task=import` of a RoBERTa (encode, fill_mask, embed) and a GPT-2 (generate):
    the SavedModels pass the servability check with the in-memory answers."""
    from bertgpt_tf.export.from_run import import_run, load_serving_module

    writer = {"roberta": write_hf_roberta, "gpt2": write_hf_gpt2}[kind]
    hf_dir = writer(str(tmp_path / kind))
    base = Config.from_preset("tiny", init_from=hf_dir, model_dir=str(tmp_path / "run"))
    lines = import_run(base, str(tmp_path / "exports")).splitlines()
    config = Config.from_json(os.path.join(lines[0], "config.json"))
    assert [os.path.basename(os.path.dirname(p)) for p in lines[1:]] == (
        ["run", "run-embed"] if kind == "roberta" else ["run"]
    )
    with open(os.path.join(lines[1], "model_card.json")) as f:
        signatures = json.load(f)["signatures"]
    assert ("fill_mask" in signatures) == (kind == "roberta")
    assert ("generate" in signatures) == (kind == "gpt2")
    assert assert_servable(load_serving_module(config), lines[1]) > 0


def test_roberta_words_are_read_with_a_leading_space_for_ner(tmp_path):
    """`encode_words` (NER) gives each word RoBERTa's in-text form "Ġword", as HF's
    `add_prefix_space=True` does, and the first-piece positions point at them."""
    from bertgpt_tf.tokenizers.segment_packer import encode_words

    hf_dir = write_hf_roberta(str(tmp_path / "roberta"))
    tokenizer = RobertaTokenizer(os.path.join(hf_dir, "vocab.json"))
    words = tf.ragged.constant([["The", "cat", "sat"]])
    inputs, first = encode_words(tokenizer, words, 16, static=False)
    expected = tokenizer.tokenize(tf.constant(" The cat sat")).numpy().tolist()
    assert inputs["token_ids"].numpy()[0].tolist() == [
        tokenizer.cls_id,
        *expected,
        tokenizer.sep_id,
    ]
    pieces = tokenizer.id_to_token(tf.gather(inputs["token_ids"][0], first[0])).numpy()
    assert all(piece.decode().startswith("\u0120") for piece in pieces)

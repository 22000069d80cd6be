"""`--task=classify/regress` end to end on small generated data: it learns, writes
eval.json/eval.md, exports a servable SavedModel, and loads pretrained encoders."""

import json
import os
import random

import keras
import numpy as np
import pytest

from bertgpt_tf.config import Config
from bertgpt_tf.export.classifier_serving import TextClassifierServing
from bertgpt_tf.export.embed_serving import EmbedServing
from bertgpt_tf.export.ner_serving import NERServing
from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer
from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer
from bertgpt_tf.training.finetune import run_finetuning
from pipelines.task_data import finetune_inputs
from pipelines.tasks import run_evaluate
from tests.conftest import (
    NEGATIVE,
    POSITIVE,
    SIZES,
    WORDS,
    classify_config,
    write_sentiment_file,
)


def test_classify_from_scratch_learns_evaluates_and_exports(tmp_path, assert_servable):
    data = write_sentiment_file(tmp_path / "sentiment.tsv", 600)
    config = classify_config(tmp_path, "run", train_data=data, epochs=4)
    path = run_finetuning(config, finetune_inputs, str(tmp_path / "saved_models"))
    run_dir = str(tmp_path / "run")
    with open(os.path.join(run_dir, "eval.json")) as f:
        report = json.load(f)
    assert report["splits"] == {"train": 480, "validation": 60, "test": 60}
    assert report["test"]["accuracy"] >= 0.9, report  # one sentiment word decides
    assert report["labels"] == ["neg", "pos"] and report["method"] == "full"
    assert report["parameters"]["trainable"] == report["parameters"]["total"]
    assert "| run | classify |" in open(os.path.join(run_dir, "eval.md")).read()

    saved = Config.from_json(os.path.join(run_dir, "config.json"))
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"))
    tokenizer = WordPieceTokenizer(saved.data.vocabulary)
    module = TextClassifierServing(model, tokenizer, 16, ["neg", "pos"])
    texts = np.array(["what a superb bridge", "the dull river", ""], object)
    out = module.call_signature("classify", {"text": texts})
    assert list(out["label"][:2]) == [b"pos", b"neg"]
    np.testing.assert_allclose(out["probabilities"].sum(-1), 1.0, rtol=1e-5)
    # serving_default + classify x 2 warmup requests + this one; 2 REST bodies; 3 outputs
    assert assert_servable(module, path, [("classify", {"text": texts})]) == 4 * 2 * 3


def test_mixed_precision_and_mean_pooling_fine_tune_and_restore_the_policy(tmp_path, monkeypatch):
    from bertgpt_tf.training import fit

    trained = []
    real_fit = fit.fit
    monkeypatch.setattr(fit, "fit", lambda model, *a, **k: trained.append(model) or
                        real_fit(model, *a, **k))  # fmt: skip
    data = write_sentiment_file(tmp_path / "sentiment.tsv", 600)  # as the fp32 test above
    config = classify_config(
        tmp_path, "run", train_data=data, epochs=4, mixed_precision=True, pooling="mean"
    )
    run_finetuning(config, finetune_inputs, str(tmp_path / "saved_models"))
    (model,) = trained
    assert model.pooling == "mean" and not model.backbone.pooled_dense.trainable
    assert model.backbone.transformer_layers[0].compute_dtype == "bfloat16"
    assert model.get_layer("logits").compute_dtype == "float32"  # float32 logits out
    assert model.backbone.transformer_layers[0].variable_dtype == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"  # the process's, back
    report = json.load(open(tmp_path / "run" / "eval.json"))
    assert report["test"]["accuracy"] >= 0.9, report


@pytest.fixture
def pretrained_run(tmp_path, tiny_vocabulary):
    """A (randomly initialised) mlm run directory, as --init_from expects it."""
    run_dir = tmp_path / "pretrained"
    run_dir.mkdir()
    size = WordPieceTokenizer(tiny_vocabulary).vocabulary_size
    sizes = {k: v for k, v in SIZES.items() if k != "sequence_length"}
    BertPretrainer(BertEncoder(vocabulary_size=size, **sizes)).save(str(run_dir / "model.keras"))
    config = Config.from_preset(
        "tiny", task="mlm", recipe="bert", vocabulary=tiny_vocabulary, vocabulary_size=size,
        **SIZES,
    )  # fmt: skip
    config.to_json(str(run_dir / "config.json"))
    return str(run_dir)


def test_a_pretrained_encoder_fine_tunes_at_the_dropout_flag(tmp_path, tiny_vocabulary):
    """--dropout sets every dropout of a loaded encoder, as it does a new one's: an
    encoder pretrained without dropout (the budget recipe) fine-tunes with it, with the
    same weights and every layer trainable (pretraining froze the unused pooler)."""
    from bertgpt_tf.training.finetune import _backbone

    size = WordPieceTokenizer(tiny_vocabulary).vocabulary_size
    sizes = {k: v for k, v in SIZES.items() if k != "sequence_length"}
    encoder = BertEncoder(vocabulary_size=size, dropout=0.0, **sizes)
    (tmp_path / "pretrained").mkdir()
    BertPretrainer(encoder, "none").save(str(tmp_path / "pretrained" / "model.keras"))
    config = classify_config(
        tmp_path, "run", init_from=str(tmp_path / "pretrained"), dropout=0.3,
        vocabulary_size=size,
    )  # fmt: skip
    backbone = _backbone(config)
    rates = {layer.rate for layer in backbone._flatten_layers()
             if isinstance(layer, keras.layers.Dropout)}  # fmt: skip
    assert rates == {0.3} and backbone.get_config()["dropout"] == 0.3
    assert all(w.trainable for w in backbone.weights)
    for a, b in zip(encoder.weights, backbone.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    inputs = {k: np.ones((2, 8), "int32") for k in ("token_ids", "padding_mask")}
    inputs["segment_ids"] = np.zeros((2, 8), "int32")
    first, second = (backbone(inputs, training=True)["sequence_output"] for _ in "ab")
    assert not np.allclose(first, second)  # dropout is on in training


def test_linear_probe_keeps_the_pretrained_encoder(tmp_path, pretrained_run):
    data = write_sentiment_file(tmp_path / "sentiment.tsv", 200)
    config = classify_config(tmp_path, "probe", train_data=data, epochs=1, init_from=pretrained_run)
    run_finetuning(config.replace(freeze_layers=0), finetune_inputs, str(tmp_path / "saved_models"))
    pretrained = keras.saving.load_model(os.path.join(pretrained_run, "model.keras"))
    probe = keras.saving.load_model(str(tmp_path / "probe" / "model.keras"))
    for a, b in zip(pretrained.backbone.weights, probe.backbone.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    report = json.load(open(tmp_path / "probe" / "eval.json"))
    assert report["method"] == "linear-probe" and report["parameters"]["trainable"] == 32 * 2 + 2


def test_the_score_before_fine_tuning_is_a_probe_of_the_untouched_encoder(tmp_path):
    """The score "before" is the head alone trained on the frozen encoder: high for one whose
    features already carry the label (one fine-tuned on it, saved as a pretraining run),
    at chance for a random one, and the encoder is not moved by it (at learning rate 0
    the fine-tuned encoder is still the pretrained one)."""
    data = write_sentiment_file(tmp_path / "sentiment.tsv", 400)
    saved_models = str(tmp_path / "saved_models")
    scratch_config = classify_config(
        tmp_path, "scratch", train_data=data, epochs=4, probe_steps=300
    )
    run_finetuning(scratch_config, finetune_inputs, saved_models)
    pretrained = tmp_path / "pretrained"
    pretrained.mkdir()
    classifier = keras.saving.load_model(str(tmp_path / "scratch" / "model.keras"))
    BertPretrainer(classifier.backbone).save(str(pretrained / "model.keras"))
    trained = Config.from_json(str(tmp_path / "scratch" / "config.json"))
    trained.replace(task="mlm").to_json(str(pretrained / "config.json"))

    config = classify_config(
        tmp_path, "run", train_data=data, epochs=1, init_from=str(pretrained),
        learning_rate=0.0, probe_steps=150,
    )  # fmt: skip
    run_finetuning(config, finetune_inputs, saved_models)
    report = json.load(open(tmp_path / "run" / "eval.json"))
    scratch = json.load(open(tmp_path / "scratch" / "eval.json"))
    assert (report["before_method"], scratch["before_method"]) == ("probe-150", "probe-300")
    assert report["before"]["accuracy"] >= 0.85, report
    assert scratch["before"]["accuracy"] <= 0.65, scratch  # random features: about chance
    tuned = keras.saving.load_model(str(tmp_path / "run" / "model.keras"))
    for a, b in zip(classifier.backbone.weights, tuned.backbone.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    assert "(probe-150)" in open(tmp_path / "run" / "eval.md").read()
    off = classify_config(tmp_path, "off", train_data=data, epochs=1, probe_steps=0)
    run_finetuning(off, finetune_inputs, saved_models)
    assert "before" not in json.load(open(tmp_path / "off" / "eval.json"))


def test_lora_and_early_stopping_through_the_config(tmp_path):
    """--lora_rank=2 trains only the head and the rank-2 adapters (a small share of the
    weights) and model.keras holds them merged (no LoRA weights); --patience=1 at
    learning rate 0 (validation never improves) stops after 2 of the 4 planned epochs."""
    data = write_sentiment_file(tmp_path / "sentiment.tsv", 160)  # 128 train: 8 steps of 16
    config = classify_config(
        tmp_path, "run", train_data=data, epochs=1, steps_per_epoch=2, lora_rank=2,
        patience=1, learning_rate=0.0,
    )  # fmt: skip
    path = run_finetuning(config, finetune_inputs, str(tmp_path / "saved_models"), version=7)
    assert path == str(tmp_path / "saved_models" / "classify-tiny" / "7")  # --export_version
    report = json.load(open(tmp_path / "run" / "eval.json"))
    assert report["method"] == "lora-2" and report["epochs_run"] == 2, report
    parameters = report["parameters"]
    assert 2 * 2 < parameters["trainable"] < 0.2 * parameters["total"], parameters
    saved = keras.saving.load_model(str(tmp_path / "run" / "model.keras"))
    assert not [w.path for w in saved.weights if "lora" in w.path]


def test_vocabulary_that_does_not_match_the_checkpoint_is_refused(tmp_path, pretrained_run):
    other = tmp_path / "other_vocab.txt"
    other.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]) + "\n")
    run_config = Config.from_json(os.path.join(pretrained_run, "config.json"))
    run_config.replace(vocabulary=str(other)).to_json(os.path.join(pretrained_run, "config.json"))
    data = write_sentiment_file(tmp_path / "sentiment.tsv", 50)
    # max_unknown_share=1: this 7-token vocabulary reads the text as [UNK], refused first
    config = classify_config(
        tmp_path, "mismatch", train_data=data, init_from=pretrained_run, max_unknown_share=1.0
    )
    with pytest.raises(ValueError, match="has 7 tokens but the checkpoint's encoder has"):
        run_finetuning(config, finetune_inputs, str(tmp_path / "saved_models"))


def test_regress_on_pairs_learns_and_exports_a_score(tmp_path, assert_servable):
    rng = random.Random(1)
    lines = ["first\tsecond\tscore"]
    for i in range(400):
        positive = i % 2
        b = rng.choices(WORDS, k=4) + [rng.choice(POSITIVE if positive else NEGATIVE)]
        lines.append(
            f"{' '.join(rng.choices(WORDS, k=5))}\t{' '.join(b)}\t{4.5 if positive else 0.5}"
        )
    (tmp_path / "pairs.tsv").write_text("\n".join(lines) + "\n")
    config = classify_config(
        tmp_path, "regress", task="regress", train_data=str(tmp_path / "pairs.tsv"), epochs=5,
        text_column="first", text_b_column="second", label_column="score",
    )  # fmt: skip
    path = run_finetuning(config, finetune_inputs, str(tmp_path / "saved_models"))
    report = json.load(open(tmp_path / "regress" / "eval.json"))
    assert report["test"]["spearman"] > 0.8 and report["test"]["pearson"] > 0.8, report
    model = keras.saving.load_model(str(tmp_path / "regress" / "model.keras"))
    saved = Config.from_json(str(tmp_path / "regress" / "config.json"))
    module = TextClassifierServing(model, WordPieceTokenizer(saved.data.vocabulary), 16, None, True)
    pair = {
        "text": np.array(["a b", "c"], object),
        "text_b": np.array(["great bridge", "dull"], object),
    }
    scores = module.call_signature("regress", pair)["score"]
    assert scores.shape == (2,) and scores[0] > scores[1]
    # serving_default + regress x 2 warmup + this one; 2 REST bodies each; 1 output
    assert assert_servable(module, path, [("regress", pair)]) == 4 * 2 * 1


PEOPLE, PLACES = ["Anna Berg", "Jürgen", "Li Wei"], ["Zürich", "New York", "Oslo"]


def _conll_file(path, n: int, seed: int = 0) -> str:
    """CoNLL-format sentences `[words] [<person>] <word> [<place>] .` in IOB1 (I- tags)."""
    rng = random.Random(seed)
    lines = []
    for _ in range(n):
        person, place = rng.choice(PEOPLE).split(), rng.choice(PLACES).split()
        tagged = [(w, "O") for w in rng.choices(WORDS, k=rng.randint(0, 3))]
        tagged += [(w, "I-PER") for w in person] * (rng.random() < 0.7)
        tagged += [(rng.choice(WORDS), "O")]
        tagged += [(w, "I-LOC") for w in place] * (rng.random() < 0.7) + [(".", "O")]
        lines += [f"{w} X X {t}" for w, t in tagged] + [""]
    path.write_text("-DOCSTART- -X- O O\n\n" + "\n".join(lines))
    return str(path)


def test_ner_learns_entities_and_serves_character_spans(tmp_path, assert_servable):
    config = classify_config(
        tmp_path, "ner", task="ner", train_data=_conll_file(tmp_path / "ner.txt", 400), epochs=6
    )
    path = run_finetuning(config, finetune_inputs, str(tmp_path / "saved_models"))
    report = json.load(open(tmp_path / "ner" / "eval.json"))
    assert report["labels"] == ["O", "B-LOC", "B-PER", "I-LOC", "I-PER"]  # IOB1 -> IOB2
    assert report["test"]["f1"] > 0.9, report
    model = keras.saving.load_model(str(tmp_path / "ner" / "model.keras"))
    saved = Config.from_json(str(tmp_path / "ner" / "config.json"))
    tokenizer = WordPieceTokenizer(saved.data.vocabulary)
    module = NERServing(model, tokenizer, 16, report["labels"])
    texts = np.array(["Anna Berg bank Zürich.", "the dog sleeps", "Li Wei, New York"], object)
    out = module.call_signature("ner", {"text": texts})
    first = [(t.decode(), k.decode(), s, e) for t, k, s, e in zip(
        out["entity_text"][0], out["entity_type"][0], out["entity_start"][0], out["entity_end"][0],
        strict=True) if t]  # fmt: skip
    assert first == [("Anna Berg", "PER", 0, 9), ("Zürich", "LOC", 15, 21)]
    assert texts[0][15:21] == "Zürich"  # character offsets, not bytes
    assert list(out["num_entities"]) == [2, 0, 2]
    # serving_default + ner x 2 warmup + this one; batched: 2 REST bodies; 5 outputs
    assert assert_servable(module, path, [("ner", {"text": texts})]) == 4 * 2 * 5


def embed_config(tmp_path, name: str, **fields) -> Config:
    """An `embed` run on 500 pairs that are similar (5.0) when their sentiment words
    agree, else 0.0."""
    rng = random.Random(2)
    lines = ["a\tb\tscore"]
    for _ in range(500):
        side_a, side_b = rng.random() < 0.5, rng.random() < 0.5
        texts = [
            " ".join(rng.choices(WORDS, k=3) + [rng.choice(POSITIVE if side else NEGATIVE)])
            for side in (side_a, side_b)
        ]
        lines.append(f"{texts[0]}\t{texts[1]}\t{5.0 if side_a == side_b else 0.0}")
    (tmp_path / "pairs.tsv").write_text("\n".join(lines) + "\n")
    return classify_config(
        tmp_path, name, task="embed", train_data=str(tmp_path / "pairs.tsv"), epochs=6,
        text_column="a", text_b_column="b", label_column="score", **fields,
    )  # fmt: skip


def test_embed_learns_similarity_and_serves_unit_vectors(tmp_path, assert_servable):
    """The siamese encoder must learn the pairs' similarity; the export gives unit
    vectors whose dot is `similarity`."""
    config = embed_config(tmp_path, "embed")
    path = run_finetuning(config, finetune_inputs, str(tmp_path / "saved_models"))
    report = json.load(open(tmp_path / "embed" / "eval.json"))
    assert report["test"]["spearman"] > 0.7, report
    assert report["before"]["spearman"] < report["test"]["spearman"] - 0.3, report
    model = keras.saving.load_model(str(tmp_path / "embed" / "model.keras"))
    saved = Config.from_json(str(tmp_path / "embed" / "config.json"))
    module = EmbedServing(model, WordPieceTokenizer(saved.data.vocabulary), 16)
    texts = np.array(["a superb bridge", "the lovely river", "dull dog"], object)
    vectors = module.call_signature("embed", {"text": texts})["embedding"]
    assert vectors.shape == (3, 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=-1), 1.0, rtol=1e-5)
    pair = {"text": texts, "text_b": texts[[1, 2, 0]]}
    scores = module.call_signature("similarity", pair)["score"]
    np.testing.assert_allclose(scores, (vectors * vectors[[1, 2, 0]]).sum(-1), atol=1e-5)
    assert scores[0] > scores[1]  # positive-positive beats positive-negative
    # serving_default + embed x 2 + similarity; + this one; 2 REST bodies; 1 output each
    assert assert_servable(module, path, [("similarity", pair)]) == 5 * 2 * 1
    # --task=evaluate re-tests the saved embedder (wrapped in the siamese pair again).
    (tmp_path / "embed" / "eval.json").write_text(json.dumps({**report, "test": {}}))
    table = run_evaluate(saved)
    again = json.load(open(tmp_path / "embed" / "eval.json"))
    assert again["test"]["spearman"] == pytest.approx(report["test"]["spearman"], abs=1e-6)
    assert again["before"] == report["before"] and "| embed |" in table


def test_embed_learns_similarity_with_the_cosent_ranking_loss(tmp_path):
    config = embed_config(tmp_path, "cosent", embed_loss="cosent")
    run_finetuning(config, finetune_inputs, str(tmp_path / "saved_models"))
    report = json.load(open(tmp_path / "cosent" / "eval.json"))
    assert report["test"]["spearman"] > 0.7, report
    assert report["before"]["spearman"] < report["test"]["spearman"] - 0.3, report
    assert Config.from_json(str(tmp_path / "cosent" / "config.json")).train.embed_loss == "cosent"


def test_prompt_tuning_trains_only_the_prompt_and_head(tmp_path, pretrained_run):
    data = write_sentiment_file(tmp_path / "sentiment.tsv", 400)
    config = classify_config(
        tmp_path, "prompt", train_data=data, epochs=3, init_from=pretrained_run, prefix_length=4
    )
    path = run_finetuning(config, finetune_inputs, str(tmp_path / "saved_models"))
    report = json.load(open(tmp_path / "prompt" / "eval.json"))
    # 4 prompt vectors of width 32 + the 32x2 head and its bias; the encoder is frozen
    assert report["method"] == "prompt-4"
    assert report["parameters"]["trainable"] == 4 * 32 + 32 * 2 + 2, report["parameters"]
    pretrained = keras.saving.load_model(os.path.join(pretrained_run, "model.keras"))
    tuned = keras.saving.load_model(str(tmp_path / "prompt" / "model.keras"))
    for a, b in zip(pretrained.backbone.weights, tuned.backbone.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    prompt = tuned.get_layer("soft_prompt").prompt.numpy()
    assert prompt.shape == (4, 32) and np.abs(prompt).max() > 0
    # The prompt is real input: replacing it changes the logits. (Not by much: this
    # random 0.02-scale encoder barely reacts to any input; unwired, the gap would be 0.)
    inputs = {k: np.ones((2, 6), "int32") for k in ("token_ids", "padding_mask")}
    inputs["segment_ids"] = np.zeros((2, 6), "int32")
    before = tuned.predict_on_batch(inputs)
    tuned.get_layer("soft_prompt").prompt.assign(np.full_like(prompt, 5.0))
    assert np.abs(tuned.predict_on_batch(inputs) - before).max() > 1e-6
    assert os.path.exists(os.path.join(path, "saved_model.pb"))


@pytest.fixture
def pretrained_gpt_run(tmp_path):
    """A (randomly initialised) clm run with a BPE tokenizer trained on the test words."""
    from bertgpt_tf.models.gpt_decoder import GPTDecoder
    from bertgpt_tf.tasks.gpt_causal_lm import GPTCausalLM
    from bertgpt_tf.tokenizers.sentencepiece_vocab import train_sentencepiece

    run_dir = tmp_path / "gpt"
    run_dir.mkdir()
    rng = random.Random(3)
    lines = [" ".join(rng.choices(WORDS + POSITIVE + NEGATIVE, k=8)) for _ in range(300)]
    (run_dir / "spm_bpe.model").write_bytes(train_sentencepiece(lines, 400, progress=False))
    sizes = {k: v for k, v in SIZES.items() if k != "sequence_length"}
    GPTCausalLM(GPTDecoder(vocabulary_size=400, **sizes)).save(str(run_dir / "model.keras"))
    config = Config.from_preset(
        "tiny", task="clm", tokenizer="bpe", vocabulary=str(run_dir / "spm_bpe.model"),
        vocabulary_size=400, **SIZES,
    )  # fmt: skip
    config.to_json(str(run_dir / "config.json"))
    return str(run_dir)


def test_classify_from_a_gpt_decoder_pools_the_last_token(
    tmp_path, pretrained_gpt_run, assert_servable
):
    data = write_sentiment_file(tmp_path / "sentiment.tsv", 600)
    config = classify_config(
        tmp_path, "gpt-classify", train_data=data, epochs=6, init_from=pretrained_gpt_run
    )
    path = run_finetuning(config, finetune_inputs, str(tmp_path / "saved_models"))
    report = json.load(open(tmp_path / "gpt-classify" / "eval.json"))
    assert report["test"]["accuracy"] >= 0.9, report
    model = keras.saving.load_model(str(tmp_path / "gpt-classify" / "model.keras"))
    assert set(model.input) == {"token_ids", "padding_mask"}  # a decoder: no segments
    saved = Config.from_json(str(tmp_path / "gpt-classify" / "config.json"))
    assert saved.data.tokenizer == "bpe"
    from bertgpt_tf.tokenizers.sentencepiece_tokenizer import SentencePieceTokenizer

    tokenizer = SentencePieceTokenizer(saved.data.vocabulary)
    module = TextClassifierServing(model, tokenizer, 16, ["neg", "pos"])
    texts = np.array(
        ["the quick fox superb over lazy dog", "people walk awful across city"], object
    )
    out = module.call_signature("classify", {"text": texts})
    assert list(out["label"]) == [b"pos", b"neg"]
    # Right padding does not change a row's answer (the last real token is pooled).
    alone = module.call_signature("classify", {"text": texts[1:]})
    np.testing.assert_allclose(alone["probabilities"], out["probabilities"][1:], atol=1e-5)
    assert assert_servable(module, path, [("classify", {"text": texts})]) == 4 * 2 * 3


def test_gpt_decoder_is_refused_for_ner_and_a_bpe_scratch_run(tmp_path, pretrained_gpt_run):
    ner = classify_config(tmp_path, "gpt-ner", task="ner", init_from=pretrained_gpt_run)
    with pytest.raises(ValueError, match="needs an mlm or electra or distill run"):
        run_finetuning(ner, finetune_inputs, str(tmp_path / "saved_models"))
    scratch = classify_config(tmp_path, "bpe-scratch", tokenizer="bpe", train_data="unused.tsv")
    with pytest.raises(ValueError, match="for a GPT decoder give --init_from"):
        run_finetuning(scratch, finetune_inputs, str(tmp_path / "saved_models"))

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
from bertgpt_tf.export.ner_serving import NERServing
from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer
from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer
from run_train import run_finetune
from tests.conftest import WORDS

POSITIVE, NEGATIVE = (
    ["great", "wonderful", "superb", "lovely"],
    ["awful", "terrible", "dull", "bad"],
)
SIZES = dict(num_layers=1, num_heads=2, hidden_dim=32, intermediate_dim=64, sequence_length=16)


def _sentiment_file(path, n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    lines = ["text\tlabel"]
    for i in range(n):
        label = i % 2
        words = rng.choices(WORDS, k=rng.randint(3, 8))
        words.insert(rng.randint(0, len(words)), rng.choice(POSITIVE if label else NEGATIVE))
        lines.append(f"{' '.join(words)}\t{'pos' if label else 'neg'}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def _config(tmp_path, name: str, **overrides) -> Config:
    defaults = dict(
        task="classify", model_dir=str(tmp_path / name), batch_size=16, learning_rate=3e-3,
        warmup_steps=10, vocabulary_size_target=200, patience=0, **SIZES,
    )  # fmt: skip
    return Config.from_preset("tiny", **{**defaults, **overrides})


def test_classify_from_scratch_learns_evaluates_and_exports(tmp_path, assert_servable):
    data = _sentiment_file(tmp_path / "sentiment.tsv", 600)
    config = _config(tmp_path, "run", train_data=data, epochs=4)
    path = run_finetune(config, str(tmp_path / "saved_models"))
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


@pytest.fixture
def pretrained_run(tmp_path, tiny_vocabulary):
    """A (randomly initialised) mlm run directory, as --init_from expects it."""
    run_dir = tmp_path / "pretrained"
    run_dir.mkdir()
    size = WordPieceTokenizer(tiny_vocabulary).vocabulary_size
    sizes = {k: v for k, v in SIZES.items() if k != "sequence_length"}
    BertPretrainer(BertEncoder(vocabulary_size=size, **sizes)).save(str(run_dir / "model.keras"))
    config = Config.from_preset(
        "tiny", task="mlm", vocabulary=tiny_vocabulary, vocabulary_size=size, **SIZES
    )
    config.to_json(str(run_dir / "config.json"))
    return str(run_dir)


def test_linear_probe_keeps_the_pretrained_encoder(tmp_path, pretrained_run):
    data = _sentiment_file(tmp_path / "sentiment.tsv", 200)
    config = _config(tmp_path, "probe", train_data=data, epochs=1, init_from=pretrained_run)
    run_finetune(config.replace(freeze_layers=0), str(tmp_path / "saved_models"))
    pretrained = keras.saving.load_model(os.path.join(pretrained_run, "model.keras"))
    probe = keras.saving.load_model(str(tmp_path / "probe" / "model.keras"))
    for a, b in zip(pretrained.encoder.weights, probe.encoder.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    report = json.load(open(tmp_path / "probe" / "eval.json"))
    assert report["method"] == "linear-probe" and report["parameters"]["trainable"] == 32 * 2 + 2


def test_vocabulary_that_does_not_match_the_checkpoint_is_refused(tmp_path, pretrained_run):
    other = tmp_path / "other_vocab.txt"
    other.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "b"]) + "\n")
    run_config = Config.from_json(os.path.join(pretrained_run, "config.json"))
    run_config.replace(vocabulary=str(other)).to_json(os.path.join(pretrained_run, "config.json"))
    data = _sentiment_file(tmp_path / "sentiment.tsv", 50)
    config = _config(tmp_path, "mismatch", train_data=data, init_from=pretrained_run)
    with pytest.raises(ValueError, match="has 7 tokens but the checkpoint's encoder has"):
        run_finetune(config, str(tmp_path / "saved_models"))


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
    config = _config(
        tmp_path, "regress", task="regress", train_data=str(tmp_path / "pairs.tsv"), epochs=5,
        text_column="first", text_b_column="second", label_column="score",
    )  # fmt: skip
    path = run_finetune(config, str(tmp_path / "saved_models"))
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
    config = _config(
        tmp_path, "ner", task="ner", train_data=_conll_file(tmp_path / "ner.txt", 400), epochs=6
    )
    path = run_finetune(config, str(tmp_path / "saved_models"))
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

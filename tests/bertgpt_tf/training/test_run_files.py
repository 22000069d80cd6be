"""Every file a run writes is written then renamed (a kill or a full disk leaves the old
file or the new one, never half of one), and a resumed run checks the vocabulary it
reuses against the size its config.json recorded."""

import os

import pytest

from bertgpt_tf.config import Config
from bertgpt_tf.evaluation import eval_report
from bertgpt_tf.training import translate

SIZES = dict(num_layers=1, num_heads=2, hidden_dim=32, intermediate_dim=64)


def record_renames(monkeypatch) -> list[str]:
    """The names `os.replace` moves files to, from now on."""
    renamed, replace = [], os.replace

    def recording_replace(source, target):
        renamed.append(os.path.basename(target))
        replace(source, target)

    monkeypatch.setattr(os, "replace", recording_replace)
    return renamed


@pytest.fixture(scope="module")
def mlm_run(tiny_corpus, tmp_path_factory):
    """A 4-step mlm run that trained its own vocabulary, with the names it renamed into
    place."""
    from bertgpt_tf.training.pretrain import prepare_pretraining, pretrain
    from pipelines.task_data import pretraining_inputs

    monkeypatch = pytest.MonkeyPatch()
    renamed = record_renames(monkeypatch)
    config = Config.from_preset(
        "tiny", task="mlm", train_data=os.path.dirname(tiny_corpus[0]),
        model_dir=str(tmp_path_factory.mktemp("mlm") / "run"), vocabulary_size_target=300,
        batch_size=8, sequence_length=32, max_predictions_per_seq=5, steps=4,
        steps_per_epoch=2, validation_steps=1, validation_fraction=0.1, warmup_steps=2,
        checkpoint_every=2, shuffle_buffer=50, **SIZES,
    )  # fmt: skip
    try:
        config = prepare_pretraining(config)
        config = pretrain(config, pretraining_inputs(config))[0]
    finally:
        monkeypatch.undo()
    return config, renamed


def test_pretraining_writes_every_file_then_renames_it(mlm_run):
    config, renamed = mlm_run
    assert {
        "vocab.txt", "config.json", "model.keras", "results.json", "step-00000002.weights.h5",
        "step-00000004.weights.h5", "epoch-000002.weights.h5", "epoch-000002.seeds.npz",
        "training_metadata.json",
    } <= set(renamed), renamed  # fmt: skip
    leftovers = [
        os.path.join(folder, name)
        for folder, _, names in os.walk(config.train.model_dir)
        for name in names
        if name.startswith(".tmp-")
    ]
    assert not leftovers


def test_resume_refuses_a_vocabulary_that_changed(mlm_run):
    from bertgpt_tf.training.pretrain import prepare_pretraining, pretrain
    from pipelines.task_data import pretraining_inputs

    config, _ = mlm_run
    vocabulary = os.path.join(config.train.model_dir, "vocab.txt")
    tokens = open(vocabulary, encoding="utf-8").read().splitlines()
    assert len(tokens) == config.model.vocabulary_size
    with open(vocabulary, "w", encoding="utf-8") as f:  # cut short, as a kill would have
        f.write("\n".join(tokens[:-20]) + "\n")
    resumed = Config.from_json(os.path.join(config.train.model_dir, "config.json"))
    resumed = prepare_pretraining(resumed.replace(steps=6))
    inputs = pretraining_inputs(resumed)
    expected = (
        rf"vocab.txt has {len(tokens) - 20} tokens, but this run .* trained with {len(tokens)}"
    )
    with pytest.raises(ValueError, match=expected):
        pretrain(resumed, inputs)
    assert Config.from_json(os.path.join(config.train.model_dir, "config.json")).train.steps == 4


def test_eval_reports_are_written_then_renamed(monkeypatch, tmp_path):
    renamed = record_renames(monkeypatch)
    report = {
        "test": {"accuracy": 0.5}, "task": "classify", "dataset": "d", "init_from": "none",
        "method": "full", "parameters": {"trainable": 1, "total": 1}, "fine_tune_minutes": 0.1,
    }  # fmt: skip
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    eval_report.write_eval(str(tmp_path / "a"), report)
    translate.write_eval(str(tmp_path / "b"), {
        "dataset": "multi30k", "direction": "en->de", "test_split": "test",
        "test": {"bleu_greedy": 1.0}, "decode_seconds": {"greedy": 0.1},
        "bleu_signature": "nrefs:1", "steps": 1, "train_minutes": 0.1, "parameters": 10,
        "samples": [{"source": "a", "reference": "b", "greedy": "c"}],
    })  # fmt: skip
    assert renamed == ["eval.json", "eval.md", "eval.json", "eval.md"]
    assert eval_report.read_eval(str(tmp_path / "a")) == report
    assert "| greedy | 1.00 | 0.1 |" in (tmp_path / "b" / "eval.md").read_text()

"""--task=translate end to end on a tiny corpus: vocabularies, fit, BLEU report, export;
bad input files end the run with a one-line error naming the file."""

import gzip
import json
import os
import subprocess
import sys

import keras
import pytest

from bertgpt_tf.config import Config
from bertgpt_tf.export.from_run import export_run
from bertgpt_tf.training.translate import run_translation
from pipelines.task_data import translation_inputs
from tests.translation_corpus import write_parallel_corpus

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "separate"])
def test_translate_run_trains_reports_bleu_and_exports(shared, tmp_path):
    folder = str(tmp_path / "multi30k")
    write_parallel_corpus(folder)
    run_dir, export_base = str(tmp_path / "run"), str(tmp_path / "saved")
    config = Config.from_preset(
        "tiny", task="translate", train_data=folder, model_dir=run_dir, shared_vocabulary=shared,
        vocabulary_size_target=340 if shared else 300, num_layers=1, hidden_dim=32,
        intermediate_dim=64, sequence_length=16, batch_size=16, steps=16, steps_per_epoch=8,
        validation_steps=2, warmup_steps=4, learning_rate=3e-3, checkpoint_every=0, beam_size=2,
    )  # fmt: skip
    path = run_translation(config, translation_inputs, export_base)
    assert os.path.exists(os.path.join(path, "saved_model.pb"))
    with open(os.path.join(run_dir, "eval.json")) as f:
        report = json.load(f)
    assert set(report["test"]) == {"bleu_greedy", "bleu_beam2"}
    assert all(0 <= v <= 100 for v in report["test"].values())
    assert report["steps"] == 16 and report["shared_vocabulary"] == shared
    assert report["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    assert len(report["samples"]) == 5 and "beam2" in report["samples"][0]
    assert "| beam2 |" in open(os.path.join(run_dir, "eval.md")).read()
    models = sorted(f for f in os.listdir(run_dir) if f.endswith(".model"))
    assert models == (["spm_bpe.model"] if shared else ["spm_bpe.de.model", "spm_bpe.en.model"])
    saved = Config.from_json(os.path.join(run_dir, "config.json"))
    assert saved.model.target_vocabulary_size == (0 if shared else 300)
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    assert model.backbone.get_config()["target_vocabulary_size"] == (0 if shared else 300)
    # --task=export of the finished run writes the next version
    again = export_run(saved, export_base)
    assert again.endswith(os.path.join("translate-tiny", "2"))


def _run_train(*flags: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "run_train.py", "--task=translate", *flags],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_bad_input_gives_a_one_line_error_naming_the_path(tmp_path):
    folder = tmp_path / "bad"
    write_parallel_corpus(str(folder))
    with gzip.open(folder / "train.de.gz", "at", encoding="utf-8") as f:
        f.write("eine Zeile zu viel\n")
    result = _run_train(f"--train_data={folder}", f"--model_dir={tmp_path / 'run'}")
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode == 1
    assert last.startswith("error: ") and "train.de.gz has 401 lines" in last, last
    write_parallel_corpus(str(folder))  # aligned again, but a file is missing
    os.remove(folder / "val.de")
    result = _run_train(f"--train_data={folder}", f"--model_dir={tmp_path / 'run'}")
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: missing translation file: {folder / 'val.de'}.gz (or {folder / 'val.de'})"
    )

"""A run killed with SIGKILL mid-training and restarted ends where an unbroken run ends."""

import json
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest

from bertgpt_tf.tasks import bert_pretrainer, gpt_causal_lm  # noqa: F401  (registers classes)
from bertgpt_tf.tokenizers.char_tokenizer import build_char_vocabulary, write_char_vocabulary

HERE = os.path.dirname(__file__)
ROOT = os.path.dirname(os.path.dirname(HERE))


def train_flags(corpus_dir, vocabulary, model_dir, export_base, **extra):
    flags = dict(
        task="mlm", preset="tiny", train_data=corpus_dir, vocabulary=vocabulary,
        model_dir=model_dir, num_layers=1, hidden_dim=32, num_heads=2, intermediate_dim=64,
        batch_size=8, sequence_length=32, max_predictions_per_seq=5, steps=8,
        steps_per_epoch=2, warmup_steps=2, validation_steps=2, validation_fraction=0.1,
        shuffle_buffer=50,
        learning_rate=1e-3, export_base=export_base,
    )  # fmt: skip
    flags.update(extra)
    return [f"--{k}={v}" for k, v in flags.items()]


def run(kill_at, flags, timeout=None, **extra_env):
    """`kill_worker.py` in a process of its own, on one machine (no TF_CONFIG)."""
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2", **extra_env}
    env.pop("TF_CONFIG", None)
    command = [sys.executable, os.path.join(HERE, "kill_worker.py"), str(kill_at), *flags]
    return subprocess.run(
        command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(params=["mlm", "clm"])
def task_flags(request, tiny_corpus, tiny_vocabulary, tmp_path):
    """mlm: WordPiece + NSP. clm: a char GPT (its own pipeline, decoder and dropout)."""
    if request.param == "mlm":
        return tiny_vocabulary, {}
    text = "".join(open(p, encoding="utf-8").read() for p in tiny_corpus[1:])
    chars = str(tmp_path / "chars.json")
    write_char_vocabulary(chars, build_char_vocabulary(text))
    return chars, {"task": "clm", "tokenizer": "char", "max_sequence_length": 64}


@pytest.mark.slow  # ~2.5 min; the default run kills during backups in test_run_backup.py
def test_kill_and_resume_matches_unbroken_run(tiny_corpus, task_flags, tmp_path):
    tiny_vocabulary, extra = task_flags
    corpus_dir = os.path.dirname(tiny_corpus[0])
    exports = str(tmp_path / "exports")
    unbroken = str(tmp_path / "unbroken")
    broken = str(tmp_path / "broken")
    done = run(0, train_flags(corpus_dir, tiny_vocabulary, unbroken, exports, **extra))
    assert done.returncode == 0, done.stderr[-3000:]

    killed = run(5, train_flags(corpus_dir, tiny_vocabulary, broken, exports, **extra))
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert not os.path.exists(os.path.join(broken, "model.keras"))
    resumed = run(0, train_flags(corpus_dir, tiny_vocabulary, broken, exports, **extra))
    assert resumed.returncode == 0, resumed.stderr[-3000:]

    for run_dir in (unbroken, broken):
        with open(os.path.join(run_dir, "results.json")) as f:
            assert json.load(f)["steps"] == 8
    a = keras.saving.load_model(os.path.join(unbroken, "model.keras"), compile=False)
    b = keras.saving.load_model(os.path.join(broken, "model.keras"), compile=False)
    # Tolerance: 1e-5 absolute per weight (same data, same masks, same dropout draws).
    for wa, wb in zip(a.get_weights(), b.get_weights(), strict=True):
        np.testing.assert_allclose(wa, wb, atol=1e-5)
    assert not np.allclose(a.get_weights()[0], keras.models.clone_model(a).get_weights()[0])

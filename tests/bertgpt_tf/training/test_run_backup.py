"""A run SIGKILLed while it writes its backup resumes to the weights an unbroken run ends
with: the backup is never half written, and never half new."""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

WORKER = os.path.join(os.path.dirname(__file__), "backup_kill_worker.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))


def run_worker(run_dir: str, mode: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, WORKER, run_dir, mode]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory) -> list[np.ndarray]:
    run_dir = str(tmp_path_factory.mktemp("unbroken"))
    done = run_worker(run_dir, "none")
    assert done.returncode == 0, done.stderr[-3000:]
    final = np.load(os.path.join(run_dir, "final.npz"))
    return [final[f"arr_{i}"] for i in range(len(final.files))]


@pytest.mark.parametrize("mode", ["torn", "before_metadata"])
def test_kill_during_backup_resumes_to_the_unbroken_weights(mode, unbroken, tmp_path):
    run_dir = str(tmp_path / "run")
    killed = run_worker(run_dir, mode)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    with open(os.path.join(run_dir, "backup", "training_metadata.json")) as f:
        assert json.load(f)["epoch"] == 1  # the first epoch's backup, whole
    resumed = run_worker(run_dir, "none")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    final = np.load(os.path.join(run_dir, "final.npz"))
    # Same data, same dropout draws: equal up to float round-off.
    for i, expected in enumerate(unbroken):
        np.testing.assert_allclose(final[f"arr_{i}"], expected, atol=1e-6)
    assert sorted(os.listdir(os.path.join(run_dir, "backup"))) == [
        "epoch-000003.seeds.npz",
        "epoch-000003.weights.h5",
        "training_metadata.json",
    ]  # the torn or orphaned files of the kill are gone


def test_a_backup_written_by_keras_backup_and_restore_still_resumes(tmp_path):
    import keras
    import tensorflow as tf

    from bertgpt_tf.training.fit import fit, make_strategy

    def model():
        with make_strategy().scope():
            m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
            m.compile(optimizer="sgd", loss="mse")
        return m

    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(4).repeat()
    old = keras.callbacks.BackupAndRestore(str(tmp_path / "backup"), delete_checkpoint=False)
    before = model()
    before.fit(data, epochs=1, steps_per_epoch=3, callbacks=[old], verbose=0, shuffle=False)
    resumed = model()
    history, _ = fit(resumed, data, None, str(tmp_path), steps=6, steps_per_epoch=3,
                     batch_size=4, tokens_per_example=1)  # fmt: skip
    assert len(history.history["loss"]) == 1  # epoch 2 only: epoch 1 came from the backup
    assert int(keras.ops.convert_to_numpy(resumed.optimizer.iterations)) == 6
    assert sorted(os.listdir(tmp_path / "backup")) == [
        "epoch-000002.seeds.npz",
        "epoch-000002.weights.h5",
        "training_metadata.json",
    ]

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

"""Fresh-process reload check shared by every export test."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

WORKER = os.path.join(os.path.dirname(__file__), "reload_worker.py")


@pytest.fixture
def assert_fresh_process_matches(tmp_path):
    """Calls `requests` ({signature: {input: value}}) on the SavedModel in a new process
    that imports only tensorflow + tensorflow_text (and from another working directory),
    and asserts every output equals `expected` ({signature: {output: array}}): numbers
    within 1e-5, strings exactly. Returns how many outputs were compared."""

    def check(saved_model_dir: str, requests: dict, expected: dict) -> int:
        requests_path = tmp_path / "requests.json"
        requests_path.write_text(json.dumps(requests))
        outputs = tmp_path / "outputs.npz"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        command = [sys.executable, WORKER, saved_model_dir, str(requests_path), str(outputs)]
        subprocess.run(command, check=True, env=env, cwd=tmp_path)
        reloaded = np.load(outputs, allow_pickle=True)  # string outputs are object arrays
        compared = 0
        for name, values in expected.items():
            for key, value in values.items():
                got = reloaded[f"{name}/{key}"]
                assert value.shape == got.shape, f"{name}/{key}"
                if value.dtype.kind in "fi":
                    assert np.max(np.abs(value - got), initial=0.0) < 1e-5, f"{name}/{key}"
                else:
                    assert (value == got).all(), f"{name}/{key}: {value} != {got}"
                compared += 1
        return compared

    return check

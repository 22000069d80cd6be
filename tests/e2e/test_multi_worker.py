"""Multi-worker training (bertgpt_tf/training/cluster.py): 2 worker processes on 127.0.0.1
train as one process does with the same global batch, only the chief writes the run
dir and the export, and a job whose worker is killed resumes every worker from the
chief's backup."""

import json
import os
import signal
import subprocess
import sys

import keras
import numpy as np
import pytest

from bertgpt_tf.tasks import bert_pretrainer  # noqa: F401  (registers classes)
from bertgpt_tf.training.cluster import free_ports, local_tf_config
from tests.e2e.test_resume import HERE, ROOT, run, train_flags

TIMEOUT = 240  # seconds a worker may take; a hung collective fails the test, never hangs it


def run_cluster(commands: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """Starts one worker process per command (TF_CONFIG set for each), waits for all
    within TIMEOUT, and kills every one still running on the way out."""
    ports = free_ports(len(commands))
    processes = []
    try:
        for index, command in enumerate(commands):
            worker_env = {
                **os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2",
                "TF_CONFIG": local_tf_config(ports, index),
            }  # fmt: skip
            processes.append(
                subprocess.Popen(
                    command,
                    env=worker_env,
                    cwd=ROOT,
                    text=True,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                )  # fmt: skip
            )
        results = []
        for process in processes:
            out, err = process.communicate(timeout=TIMEOUT)
            results.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
        return results
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()


def run_one(flags: list[str], logical_cpus: int = 1):
    """One process (MirroredStrategy over `logical_cpus` CPUs when > 1), to completion."""
    done = run(0, flags, timeout=TIMEOUT, LOGICAL_CPUS=str(logical_cpus))
    assert done.returncode == 0, done.stderr[-3000:]


def worker_commands(flags: list[str], kill_at=(0, 0)) -> list[list[str]]:
    script = os.path.join(HERE, "kill_worker.py")
    return [[sys.executable, script, str(k), *flags] for k in kill_at]


def history(run_dir: str) -> dict:
    with open(os.path.join(run_dir, "results.json")) as f:
        return json.load(f)


def weights(run_dir: str) -> np.ndarray:
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    return np.concatenate([w.ravel() for w in model.get_weights()])


def relative_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(a))


@pytest.fixture
def flags_for(tiny_corpus, tiny_vocabulary, tmp_path):
    corpus_dir = os.path.dirname(tiny_corpus[0])

    def make(name: str) -> list[str]:
        return train_flags(
            corpus_dir, tiny_vocabulary, str(tmp_path / name), str(tmp_path / f"exports-{name}")
        )

    return make


def test_keras_fit_still_fails_under_multi_worker_without_our_overrides(tmp_path):
    """keras-team/keras#20585 upstream: when this fails, the overrides can go."""
    script = os.path.join(HERE, "multi_worker_fit.py")
    outs = [str(tmp_path / f"upstream{i}.json") for i in range(2)]
    upstream = run_cluster([[sys.executable, script, out, "upstream"] for out in outs])
    assert all(r.returncode != 0 for r in upstream)
    assert "PerReplica" in upstream[0].stderr and "unsupported type" in upstream[0].stderr

    outs = [str(tmp_path / f"fixed{i}.json") for i in range(2)]
    fixed = run_cluster([[sys.executable, script, out, "overrides"] for out in outs])
    assert all(r.returncode == 0 for r in fixed), fixed[0].stderr[-3000:]
    results = [json.load(open(out)) for out in outs]
    assert results[0] == results[1]  # every worker holds the same model
    assert results[0]["loss"][-1] < 0.05 * results[0]["loss"][0]  # and it learned y = x w
    # the same as one process with the global batch of 16 (SGD: round-off stays 1e-6)
    reference = str(tmp_path / "one.json")
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    subprocess.run([sys.executable, script, reference, "overrides"], check=True, cwd=ROOT,
                   env={**env, "PYTHONPATH": ROOT}, timeout=TIMEOUT)  # fmt: skip
    one = json.load(open(reference))
    np.testing.assert_allclose(results[0]["loss"], one["loss"], rtol=1e-5)
    np.testing.assert_allclose(results[0]["kernel"], one["kernel"], rtol=1e-5, atol=1e-6)


@pytest.mark.slow  # ~80 s: two run_train jobs; the default run keeps the toy test above
def test_two_workers_train_as_one_process_with_two_replicas(flags_for, tmp_path):
    """The same global batch of 8 split over 2 replicas: in 2 worker processes, or in one
    process (MirroredStrategy over 2 logical CPUs). Tolerance: each epoch's loss within
    2e-5 relative, the final weights within 1e-3 of their norm (Adam divides round-off
    in near-zero gradients by sqrt(v), so 8 steps amplify the all-reduce's float
    ordering differences to ~1e-3 in a few weights; test_multi_replica.py shows it)."""
    one = tmp_path / "one"
    run_one(flags_for("one"), logical_cpus=2)
    results = run_cluster(worker_commands(flags_for("two")))
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
    two = tmp_path / "two"
    reference, chief = history(one), history(two)
    assert chief["steps"] == reference["steps"] == 8
    np.testing.assert_allclose(chief["history"]["loss"], reference["history"]["loss"], rtol=2e-5)
    np.testing.assert_allclose(
        chief["history"]["val_loss"], reference["history"]["val_loss"], rtol=2e-5
    )
    assert relative_distance(weights(one), weights(two)) < 1e-3
    # Only the chief writes the run dir and exports; worker 1 has its own folder.
    worker = two / "workers" / "worker-1"
    np.testing.assert_array_equal(weights(two), weights(worker))
    assert history(worker)["history"] == chief["history"]
    assert os.listdir(tmp_path / "exports-two" / "mlm-tiny") == ["1"]
    assert "export of mlm-tiny left to the chief" in results[1].stderr
    assert not os.path.exists(worker / "backup")  # it restores from the chief's


@pytest.mark.slow  # ~3 min: four runs
def test_killed_worker_resumes_from_the_chiefs_backup(flags_for, tmp_path):
    """Worker 1 is SIGKILLed at step 5 (the backup is from step 4); worker 0 then fails
    on its next collective; the job restarted ends with the same weights as an unbroken
    2-worker job, on both workers, and follows 1 device (one process, no strategy)
    within the tolerance of test_multi_replica.py (loss 5e-4 relative)."""
    unbroken = run_cluster(worker_commands(flags_for("unbroken")))
    assert all(r.returncode == 0 for r in unbroken), unbroken[0].stderr[-3000:]
    killed = run_cluster(worker_commands(flags_for("broken"), kill_at=(0, 5)))
    assert killed[1].returncode == -signal.SIGKILL
    assert killed[0].returncode != 0  # the chief noticed: no hang, no model written
    assert not os.path.exists(tmp_path / "broken" / "model.keras")
    resumed = run_cluster(worker_commands(flags_for("broken")))
    assert all(r.returncode == 0 for r in resumed), resumed[0].stderr[-3000:]

    broken = tmp_path / "broken"
    for run_dir in (broken, broken / "workers" / "worker-1"):
        assert history(run_dir)["steps"] == 8
        np.testing.assert_array_equal(weights(run_dir), weights(tmp_path / "unbroken"))
    losses = history(tmp_path / "unbroken")["history"]["loss"]
    assert history(broken)["history"]["loss"] == losses[-2:]  # the 2 epochs after the resume
    run_one(flags_for("device"))
    np.testing.assert_allclose(losses, history(tmp_path / "device")["history"]["loss"], rtol=5e-4)


@pytest.mark.slow  # ~2 min
@pytest.mark.parametrize("task", ["classify", "clm"])
def test_fine_tuning_and_clm_run_on_two_workers(task, tiny_corpus, tmp_path):
    """Fine-tuning (linear probe, early stopping, test evaluation) and GPT pretraining
    go through the same cluster path: both workers end with the same history and test
    scores, and the chief alone exports."""
    from tests.conftest import write_sentiment_file

    tiny = dict(num_layers=1, hidden_dim=32, num_heads=2, intermediate_dim=64, steps=12,
                steps_per_epoch=6, validation_steps=2, model_dir=tmp_path / "run",
                export_base=tmp_path / "exports")  # fmt: skip
    if task == "classify":
        data = write_sentiment_file(tmp_path / "train.tsv", 300)
        flags = dict(task="classify", train_data=data, preset="tiny", batch_size=16,
                     vocabulary_size_target=200, sequence_length=32, probe_steps=5, patience=2)  # fmt: skip
    else:
        flags = dict(task="clm", tokenizer="char", train_data=os.path.dirname(tiny_corpus[0]),
                     batch_size=8, sequence_length=32, max_sequence_length=64,
                     validation_fraction=0.1)  # fmt: skip
    command = [
        sys.executable,
        "run_train.py",
        *[f"--{k}={v}" for k, v in {**tiny, **flags}.items()],
    ]
    results = run_cluster([command, command])
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
    chief, worker = tmp_path / "run", tmp_path / "run" / "workers" / "worker-1"
    name = "eval.json" if task == "classify" else "results.json"
    a, b = (json.load(open(d / name)) for d in (chief, worker))
    if task == "classify":
        assert a["test"] == b["test"] and a["before"] == b["before"]
    else:
        assert a["history"] == b["history"] and len(a["history"]["loss"]) == 2
    assert len(os.listdir(tmp_path / "exports")) == 1
    assert "left to the chief" in results[1].stderr

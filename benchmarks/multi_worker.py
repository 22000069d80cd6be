"""Multi-worker overhead on one host: 1 worker x 2 cores against 2 workers x 1 core each,
the same `run_train.py --task=mlm` run and global batch, and on paper the all-reduce
volume per step that decides scaling to N hosts.

    python -m benchmarks.multi_worker --vocabulary=runs/mlm-budget/vocab.txt \
        [--steps=60] [--preset=mini] [--batch_size=32] [--out=/tmp/multi_worker]

Each worker is pinned to its cores (`taskset`) with TensorFlow's and oneDNN's thread
pools sized to them. Tokens/s is the chief's `results.json` mean (real tokens of the
global batch per second of training; the first window's tracing left out). On one host
this measures the cost of the cluster machinery (gRPC collectives, each worker running
the whole input pipeline under data sharding), not a speed-up: the cores are the same.
"""

import json
import os
import shutil
import subprocess
import sys
import time

from absl import app, flags

from bertgpt_tf.training.cluster import free_ports, local_tf_config

flags.DEFINE_string("vocabulary", "", "WordPiece vocabulary file (required)")
flags.DEFINE_integer("steps", 60, "training steps of each run")
flags.DEFINE_string("preset", "mini", "model preset")
flags.DEFINE_integer("batch_size", 32, "global batch")
flags.DEFINE_string("out", "/tmp/bertgpt-multi-worker", "scratch folder for the runs")
flags.DEFINE_string("data_dir", "", "data directory of the default corpora")
FLAGS = flags.FLAGS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def command(run_dir: str) -> list[str]:
    flags_ = dict(
        task="mlm", preset=FLAGS.preset, vocabulary=FLAGS.vocabulary, model_dir=run_dir,
        steps=FLAGS.steps, steps_per_epoch=FLAGS.steps // 2, batch_size=FLAGS.batch_size,
        max_minutes=0, validation_steps=5, export_base=os.path.join(run_dir, "exports"),
    )  # fmt: skip
    if FLAGS.data_dir:
        flags_["data_dir"] = FLAGS.data_dir
    return [sys.executable, "run_train.py", *[f"--{k}={v}" for k, v in flags_.items()]]


def launch(run_dir: str, cores: list[list[int]]) -> float:
    """One worker per entry of `cores`, each pinned to those cores; the chief's tokens/s."""
    shutil.rmtree(run_dir, ignore_errors=True)
    ports = free_ports(len(cores))
    processes, logs = [], []
    for index, worker_cores in enumerate(cores):
        threads = str(len(worker_cores))
        env = {
            **os.environ, "TF_NUM_INTRAOP_THREADS": threads, "TF_NUM_INTEROP_THREADS": threads,
            "OMP_NUM_THREADS": threads, "TF_CPP_MIN_LOG_LEVEL": "2",
        }  # fmt: skip
        env.pop("TF_CONFIG", None)
        if len(cores) > 1:
            env["TF_CONFIG"] = local_tf_config(ports, index)
        pin = ["taskset", "-c", ",".join(map(str, worker_cores))]
        log = open(os.path.join(FLAGS.out, f"{os.path.basename(run_dir)}-{index}.log"), "w")
        logs.append(log)
        processes.append(
            subprocess.Popen([*pin, *command(run_dir)], cwd=ROOT, env=env, stdout=log, stderr=log)
        )
    try:
        for process in processes:
            if process.wait(timeout=3600):
                raise RuntimeError(f"a worker failed: see {FLAGS.out}/*.log")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        for log in logs:
            log.close()
    with open(os.path.join(run_dir, "results.json")) as f:
        return json.load(f)["tokens_per_second"]


def main(argv):
    del argv
    if not FLAGS.vocabulary:
        raise app.UsageError("--vocabulary is required (e.g. runs/<run>/vocab.txt)")
    os.makedirs(FLAGS.out, exist_ok=True)
    layouts = {"1 worker x 2 cores": [[0, 1]], "2 workers x 1 core": [[0], [1]]}
    rows = {}
    for name, cores in layouts.items():
        start = time.monotonic()
        tokens = launch(os.path.join(FLAGS.out, name.split()[0] + "w"), cores)
        rows[name] = (tokens, time.monotonic() - start)
        print(f"{name}: {tokens:,.0f} tokens/s ({rows[name][1]:.0f} s)", flush=True)

    from bertgpt_tf.tasks.load_task_model import load_task_model
    from bertgpt_tf.training.peft import count_parameters

    model = load_task_model(os.path.join(FLAGS.out, "1w", "model.keras"))
    parameters = count_parameters(model)["trainable"]
    base = rows["1 worker x 2 cores"][0]
    print()
    print(f"`{' '.join(command('<run>')[1:])}`, {FLAGS.steps} steps, on this machine")
    print()
    print("| layout | real tokens/s | vs 1 worker | wall (s) |")
    print("|---|---|---|---|")
    for name, (tokens, wall) in rows.items():
        print(f"| {name} | {tokens:,.0f} | {tokens / base:.2f}x | {wall:.0f} |")
    # Ring all-reduce: each worker sends and receives 2 (N-1)/N of the gradient per step.
    # An upper bound: the embedding's gradient is sparse (IndexedSlices, all-gathered).
    gradient_mb = parameters * 4 / 1e6
    print()
    print(
        f"Gradient all-reduced per step (dense upper bound): {parameters:,} float32 = "
        f"{gradient_mb:.1f} MB."
    )
    print("| hosts | sent + received per host per step (ring) | at 10 Gbit/s | at 100 Gbit/s |")
    print("|---|---|---|---|")
    for n in (2, 4, 8, 16):
        volume = 2 * 2 * (n - 1) / n * gradient_mb  # MB, both directions
        print(f"| {n} | {volume:.0f} MB | {volume * 8 / 10e3:.2f} s | {volume * 8 / 100e3:.3f} s |")


if __name__ == "__main__":
    app.run(main)

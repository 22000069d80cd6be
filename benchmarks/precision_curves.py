"""bf16 against fp32 for the main command's training step: speed and the loss curve.

    python -m benchmarks.precision_curves [--steps=400] [--steps_per_epoch=50] \
        [--vocabulary=runs/mlm-budget/vocab.txt] [--out=runs/precision] [--rounds=1]

Runs `run_train.py --task=mlm` (the budget recipe, the main command's model, data and
seed) for `--steps` steps twice per round, `--mixed_precision=false` then `=true`
(rounds alternate the order), with no time budget so that both runs take the same
steps with the same learning-rate schedule. Prints the training loss (the mean over each
`--steps_per_epoch` window) and the held-out loss of both side by side, their relative
difference, and each run's real tokens/s with the bf16/fp32 ratio: over the whole run
(results.json: the first window's tracing and every stall included) and in steady state
(the median of the logged windows after the first, from the run's TensorBoard
`tokens_per_second`). Nothing else should run on the machine meanwhile.
"""

import json
import os
import statistics
import subprocess
import sys

from absl import app, flags

from tools.held_out_curve import scalars

flags.DEFINE_integer("steps", 400, "training steps of each run")
flags.DEFINE_integer("steps_per_epoch", 50, "loss window (and validation cadence)")
flags.DEFINE_integer("validation_steps", 20, "held-out batches per validation")
flags.DEFINE_string("vocabulary", "", "WordPiece vocabulary (default: each run learns it)")
flags.DEFINE_string("out", "runs/precision", "folder of the runs")
flags.DEFINE_integer("rounds", 1, "fp32/bf16 pairs, the order alternated")
FLAGS = flags.FLAGS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRECISIONS = {"fp32": "false", "bf16": "true"}


def train(run_dir: str, mixed_precision: str) -> dict:
    """One run of the main command for `--steps` steps; its results.json."""
    command = [
        sys.executable, "run_train.py", "--task=mlm", f"--model_dir={run_dir}",
        f"--mixed_precision={mixed_precision}", "--max_minutes=0", f"--steps={FLAGS.steps}",
        f"--steps_per_epoch={FLAGS.steps_per_epoch}",
        f"--validation_steps={FLAGS.validation_steps}", f"--export_base={run_dir}/export",
    ]  # fmt: skip
    if FLAGS.vocabulary:
        command.append(f"--vocabulary={os.path.abspath(FLAGS.vocabulary)}")
    print("$", " ".join(command[1:]), flush=True)
    subprocess.run(command, cwd=ROOT, check=True)
    with open(os.path.join(run_dir, "results.json")) as f:
        results = json.load(f)
    windows = scalars(os.path.join(run_dir, "logs", "train"), "tokens_per_second")
    results["steady_tokens_per_second"] = statistics.median(v for _, _, v in windows[1:])
    return results


def table(results: dict[str, list[dict]]) -> str:
    """Loss side by side (the first round's) and tokens/s of every run."""
    fp32, bf16 = results["fp32"][0]["history"], results["bf16"][0]["history"]
    lines = [
        "| step | fp32 loss | bf16 loss | relative difference | fp32 held-out loss "
        "| bf16 held-out loss |",
        "|---|---|---|---|---|---|",
    ]
    for i, (a, b) in enumerate(zip(fp32["loss"], bf16["loss"], strict=True)):
        step = (i + 1) * FLAGS.steps_per_epoch
        lines.append(
            f"| {step} | {a:.4f} | {b:.4f} | {(b - a) / a:+.2%} "
            f"| {fp32['val_loss'][i]:.4f} | {bf16['val_loss'][i]:.4f} |"
        )
    lines += [
        "",
        "| precision | real tokens/s, whole run (each run) | steady state (each run) |",
        "|---|---|---|",
    ]
    ratios = []
    for key in ("tokens_per_second", "steady_tokens_per_second"):
        mean = {n: statistics.mean(r[key] for r in runs) for n, runs in results.items()}
        ratios.append(mean["bf16"] / mean["fp32"])
    for name, runs in results.items():
        whole = ", ".join(f"{r['tokens_per_second']:,.0f}" for r in runs)
        steady = ", ".join(f"{r['steady_tokens_per_second']:,.0f}" for r in runs)
        lines.append(f"| {name} | {whole} | {steady} |")
    lines.append(
        f"\nbf16 / fp32 real tokens/s: {ratios[0]:.2f}x over the whole run, "
        f"{ratios[1]:.2f}x in steady state"
    )
    return "\n".join(lines)


def main(argv):
    del argv
    results = {name: [] for name in PRECISIONS}
    for round_ in range(FLAGS.rounds):
        order = list(PRECISIONS) if round_ % 2 == 0 else list(PRECISIONS)[::-1]
        for name in order:
            run_dir = os.path.abspath(os.path.join(FLAGS.out, f"{name}-{round_}"))
            results[name].append(train(run_dir, PRECISIONS[name]))
    print(table(results))


if __name__ == "__main__":
    app.run(main)

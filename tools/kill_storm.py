"""Kill storm: a tiny pretraining run SIGKILLed at random moments (some while it writes
a backup or an export), restarted each time with the same command, must end with the
step count and weights of an uninterrupted run of that command, and every export it
wrote must load.

    nice -n 19 taskset -c 1 python -m tools.kill_storm --kills=20 --steps=300

Kill moments: while training is left, `--backup_share` of the kills come 0-50 ms after
a backup staging file appears (`backup/.tmp-*`, the write-then-rename of `RunBackup`),
the others at a uniform random moment of what is left of startup + training (timed on
the uninterrupted run); the last `--export_share` of the kills come at a random moment
into an export (after its staging folder `<export_base>/<name>/.tmp-*` appears). Where
each kill landed is read from what it left behind.
"""

import glob
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

from absl import app, flags

from tools.tiny_data import corpus_lines, write_corpus, write_vocabulary

flags.DEFINE_integer("kills", 8, "SIGKILLs to deliver (the issue asks 20: ~15 min here)")
flags.DEFINE_integer("steps", 200, "training steps of the run")
flags.DEFINE_integer("steps_per_epoch", 10, "backup cadence (steps)")
flags.DEFINE_integer("checkpoint_every", 50, "checkpoint cadence (steps)")
flags.DEFINE_float("backup_share", 0.3, "share of kills aimed at a backup being written")
flags.DEFINE_float("export_share", 0.2, "share of kills aimed at an export being written")
flags.DEFINE_float("atol", 1e-5, "weight tolerance against the uninterrupted run")
flags.DEFINE_integer("seed", 0, "kill-schedule seed")
flags.DEFINE_string("work_dir", "", "where runs go (default: a temp dir)")
FLAGS = flags.FLAGS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXPORT_NAME = "storm"


def command(corpus: str, vocabulary: str, run_dir: str, export_base: str) -> list[str]:
    args = dict(
        task="mlm", preset="tiny", train_data=corpus, vocabulary=vocabulary, model_dir=run_dir,
        num_layers=1, hidden_dim=32, num_heads=2, intermediate_dim=64, batch_size=8,
        sequence_length=32, max_predictions_per_seq=5, steps=FLAGS.steps,
        steps_per_epoch=FLAGS.steps_per_epoch, checkpoint_every=FLAGS.checkpoint_every,
        warmup_steps=10, validation_steps=2, validation_fraction=0.1, shuffle_buffer=50,
        learning_rate=1e-3, export_base=export_base, export_name=EXPORT_NAME,
    )  # fmt: skip
    return [sys.executable, os.path.join(ROOT, "run_train.py")] + [
        f"--{k}={v}" for k, v in args.items()
    ]


def launch(cmd: list[str], log: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)


def staging(run_dir: str, export_base: str, kind: str) -> list[str]:
    if kind == "backup":
        return glob.glob(os.path.join(run_dir, "backup", ".tmp-*"))
    return glob.glob(os.path.join(export_base, EXPORT_NAME, ".tmp-*"))


def backup_epoch(run_dir: str) -> int:
    try:
        with open(os.path.join(run_dir, "backup", "training_metadata.json")) as f:
            return int(json.load(f)["epoch"])
    except (OSError, ValueError, KeyError):
        return 0


def kill_once(cmd, run_dir, export_base, log, aim: str, delay: float, timeout: float) -> dict:
    """Launches `cmd` and SIGKILLs it: after `delay` s (aim "time"), or `delay` s after
    a staging file of `aim` ("backup" / "export") shows. Returns what happened, with
    when training started (`logs/` appeared) and ended (`model.keras` appeared)."""
    before = {k: set(staging(run_dir, export_base, k)) for k in ("backup", "export")}
    epoch_before = backup_epoch(run_dir)
    started = time.monotonic()
    process = launch(cmd, log)
    killed, seen, phases = False, None, {}
    while process.poll() is None and time.monotonic() - started < timeout:
        elapsed = time.monotonic() - started
        for phase, name in (("train_start", "logs"), ("train_end", "model.keras")):
            if phase not in phases and os.path.exists(os.path.join(run_dir, name)):
                phases[phase] = elapsed
        if aim != "time" and seen is None and set(staging(run_dir, export_base, aim)) - before[aim]:
            seen = elapsed
        killed = elapsed >= delay if aim == "time" else seen is not None and elapsed >= seen + delay
        if killed:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    returncode = process.wait()
    left = {k: sorted(set(staging(run_dir, export_base, k)) - before[k]) for k in before}
    if returncode not in (0, -signal.SIGKILL):
        raise RuntimeError(f"run exited {returncode}; see {log}")
    if not killed and returncode != 0:
        raise RuntimeError(f"run timed out after {timeout:.0f} s; see {log}")
    if not killed:
        landed = "finished first"
    elif left["export"]:
        landed = "during export"
    elif left["backup"]:
        landed = "during backup"
    elif aim == "backup":
        landed = "at a backup (after its rename)"
    elif (
        os.path.exists(os.path.join(run_dir, "model.keras"))
        and epoch_before * FLAGS.steps_per_epoch >= FLAGS.steps
    ):
        landed = "after training"
    elif backup_epoch(run_dir) > epoch_before or os.path.isdir(os.path.join(run_dir, "logs")):
        landed = "during training"
    else:
        landed = "before training"
    return {"aim": aim, "killed": killed, "landed": landed, "seconds": time.monotonic() - started,
            "epoch": backup_epoch(run_dir), **phases}  # fmt: skip


def compare(unbroken: str, broken: str) -> tuple[int, int, float]:
    """(steps unbroken, steps broken, max |weight difference|) of two finished runs."""
    import numpy as np

    from bertgpt_tf.tasks.load_task_model import load_task_model

    steps = []
    for run_dir in (unbroken, broken):
        with open(os.path.join(run_dir, "results.json")) as f:
            steps.append(json.load(f)["steps"])
    a, b = (load_task_model(os.path.join(d, "model.keras")) for d in (unbroken, broken))
    diff = max(float(np.max(np.abs(x - y))) for x, y in
               zip(a.get_weights(), b.get_weights(), strict=True))  # fmt: skip
    return steps[0], steps[1], diff


LOAD_EXPORTS = """
import json, sys
import tensorflow as tf, tensorflow_text  # noqa: F401  (only these two)
results = {}
for path in sys.argv[1:]:
    try:
        out = tf.saved_model.load(path).signatures["fill_mask"](
            text=tf.constant(["the quick brown [MASK] jumps."]))
        results[path] = "ok" if out["top_tokens"].shape[0] == 1 else "bad shape"
    except Exception as e:  # noqa: BLE001  (reported, not raised)
        results[path] = f"{type(e).__name__}: {e}"[:300]
print(json.dumps(results))
"""


def load_exports(paths: list[str]) -> dict[str, str]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", LOAD_EXPORTS, *paths], env=env,
                          capture_output=True, text=True, timeout=900)  # fmt: skip
    if done.returncode:
        return {p: f"loader exited {done.returncode}: {done.stderr[-300:]}" for p in paths}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv):
    del argv
    work = FLAGS.work_dir or tempfile.mkdtemp(prefix="kill_storm-")
    corpus = write_corpus(os.path.join(work, "corpus"))
    vocabulary = write_vocabulary(os.path.join(work, "vocab.txt"), corpus_lines())
    rng = random.Random(FLAGS.seed)
    dirs = {
        k: (os.path.join(work, k), os.path.join(work, f"exports-{k}"))
        for k in ("unbroken", "storm")
    }

    started = time.monotonic()
    cmd = command(corpus, vocabulary, *dirs["unbroken"])
    print("command:", " ".join(cmd[1:]).replace(work, "<work>"))
    first = kill_once(cmd, *dirs["unbroken"], os.path.join(work, "unbroken.log"), "time", 1e9, 1800)
    full = first["seconds"]

    run_dir, export_base = dirs["storm"]
    cmd = command(corpus, vocabulary, run_dir, export_base)
    log = os.path.join(work, "storm.log")
    # Training-phase kills (at a backup, or at a random moment of what is left of
    # startup + training), then export-phase kills (a random moment into the export).
    startup, train = first["train_start"], first["train_end"] - first["train_start"]
    export = first["seconds"] - first["train_end"]
    print(f"uninterrupted run: {full:.1f} s (startup {startup:.0f}, training {train:.0f}, "
          f"export {export:.0f})")  # fmt: skip
    events, attempts = [], 0
    export_kills = round(FLAGS.kills * FLAGS.export_share)
    while sum(e["killed"] for e in events) < FLAGS.kills and attempts < 3 * FLAGS.kills:
        attempts += 1
        done = min(backup_epoch(run_dir) * FLAGS.steps_per_epoch / FLAGS.steps, 1.0)
        training_left = sum(e["killed"] for e in events) < FLAGS.kills - export_kills and done < 1
        if not training_left:
            aim, delay = "export", rng.uniform(0.0, 0.9 * export)
        elif rng.random() < FLAGS.backup_share / (1.0 - FLAGS.export_share):
            aim, delay = "backup", rng.uniform(0.0, 0.05)  # a backup takes ~0.1 s
        else:
            aim, delay = "time", rng.uniform(0.3 * startup, startup + (1.0 - done) * train)
        events.append(kill_once(cmd, run_dir, export_base, log, aim, delay, 3 * full + 60))
        e = events[-1]
        print(f"  launch {attempts:2d}: aim {aim:6s} -> {e['landed']:31s} "
              f"after {e['seconds']:5.1f} s, backup epoch {e['epoch']}", flush=True)  # fmt: skip
    final = kill_once(cmd, run_dir, export_base, log, "time", 1e9, 3 * full + 60)
    print(f"final launch: {final['landed']} in {final['seconds']:.1f} s")

    steps_a, steps_b, diff = compare(dirs["unbroken"][0], run_dir)
    exports = sorted(glob.glob(os.path.join(export_base, EXPORT_NAME, "[0-9]*")))
    exports += sorted(glob.glob(os.path.join(dirs["unbroken"][1], EXPORT_NAME, "[0-9]*")))
    loaded = load_exports(exports)
    leftovers = staging(run_dir, export_base, "export")
    landed = {}
    for e in events:
        landed[e["landed"]] = landed.get(e["landed"], 0) + 1
    ok = steps_a == steps_b == FLAGS.steps and diff <= FLAGS.atol and all(
        v == "ok" for v in loaded.values())  # fmt: skip
    print()
    print("| kill storm | result |")
    print("|---|---|")
    print(
        f"| SIGKILLs delivered / launches | {sum(e['killed'] for e in events)} / {attempts + 1} |"
    )
    for where, count in sorted(landed.items()):
        print(f"| landed {where} | {count} |")
    print(f"| steps: uninterrupted / stormed | {steps_a} / {steps_b} (wanted {FLAGS.steps}) |")
    print(f"| max abs weight difference | {diff:.2e} (tolerance {FLAGS.atol:g}) |")
    print(
        f"| exports that load (tf + tf_text only) | {sum(v == 'ok' for v in loaded.values())} / {len(loaded)} |"
    )
    print(f"| export staging folders left by kills (TF Serving skips .tmp-*) | {len(leftovers)} |")
    print(f"| wall time | {time.monotonic() - started:.0f} s |")
    for path, result in loaded.items():
        if result != "ok":
            print(f"FAILED to load {path}: {result}")
    print("PASSED" if ok else "FAILED", f"(work dir {work})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    app.run(main)

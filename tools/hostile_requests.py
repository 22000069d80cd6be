"""Hostile requests: every signature of every export kind, reloaded in a process that
imports only tensorflow + tensorflow_text, gets "", whitespace, special-token literals,
100k characters, invalid UTF-8, NUL bytes, emoji/ZWJ, right-to-left text, a batch of 0,
a batch of mixed lengths (and, for the generator, hostile sampling controls; for the
token signatures, out-of-range ids and shapes). Checks: no crash, no NaN, each request
under --max_seconds, and each row answered alone as it is in the batch (--atol).

    nice -n 19 taskset -c 1 python -m tools.hostile_requests [--kinds=mlm,ner]

InvalidArgumentError is a refusal (counted apart, its message printed): documented
for pair signatures with mismatched sizes; for the others the messages are listed.
"""

import collections
import json
import os
import subprocess
import sys
import tempfile
import time

from absl import app, flags

from tools.tiny_data import hostile_bytes
from tools.tiny_exports import KINDS, build_exports

flags.DEFINE_list("kinds", list(KINDS), "export kinds to build and attack")
flags.DEFINE_float("max_seconds", 20.0, "bound on one request (a batch of n: n times it)")
flags.DEFINE_float("atol", 1e-4, "alone-vs-batch tolerance of float outputs")
flags.DEFINE_string("work_dir", "", "where exports go (default: a temp dir; reused if there)")
FLAGS = flags.FLAGS

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "hostile_worker.py")
BAD = ("error", "nan", "slow", "mismatch", "crash")


def attack(path: str, work: str, kind: str) -> list[dict]:
    """The worker's records for one export; a dead worker adds a `crash` record naming
    the call it was in."""
    job = os.path.join(work, f"{kind}.job.json")
    texts = {k: v.hex() for k, v in hostile_bytes().items()}
    with open(job, "w") as f:
        json.dump({"path": path, "texts": texts, "max_seconds": FLAGS.max_seconds,
                   "atol": FLAGS.atol}, f)  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": ""}
    try:
        done = subprocess.run([sys.executable, WORKER, job], env=env, capture_output=True,
                              text=True, timeout=1800)  # fmt: skip
        stdout, returncode, stderr = done.stdout, done.returncode, done.stderr
    except subprocess.TimeoutExpired as e:
        stdout, returncode, stderr = (e.stdout or b"").decode(), "timeout", ""
    records = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    if not any(r.get("done") for r in records):
        last = next((r["start"] for r in reversed(records) if "start" in r), "before any call")
        records.append({"signature": last.split("/")[0], "case": last, "outcome": "crash",
                        "seconds": 0.0, "message": f"worker exit {returncode}: {stderr[-300:]}"})  # fmt: skip
    imported = next((r["imports"] for r in records if "imports" in r), [])
    if imported:
        records.append({"signature": "-", "case": "imports", "outcome": "error",
                        "seconds": 0.0, "message": f"worker imported {imported}"})  # fmt: skip
    return [r for r in records if "outcome" in r]


def main(argv):
    del argv
    work = FLAGS.work_dir or tempfile.mkdtemp(prefix="hostile-")
    started = time.monotonic()
    paths = build_exports(os.path.join(work, "exports"), tuple(FLAGS.kinds))
    print(f"built {len(paths)} exports in {time.monotonic() - started:.0f} s ({work})", flush=True)
    rows, findings = [], []
    for kind, path in paths.items():
        records = attack(path, work, kind)
        count = collections.Counter(r["outcome"] for r in records)
        calls = [r for r in records if r["outcome"] not in ("same", "mismatch")]
        signatures = len({r["signature"] for r in calls})
        slowest = max((r["seconds"] for r in calls), default=0.0)
        rows.append((kind, signatures, len(calls), count["ok"], count["refused"],
                     count["same"], *(count[b] for b in BAD), slowest))  # fmt: skip
        findings += [(kind, r) for r in records if r["outcome"] in BAD + ("refused",)]
        print(f"  {kind}: {dict(count)}", flush=True)
    print()
    print(
        "| export | signatures | calls | ok | refused (InvalidArgument) | alone = batch "
        "| error | NaN | slow | alone != batch | crash | slowest call s |"
    )
    print("|---|" + "---|" * 11)
    for row in rows:
        print("| " + " | ".join(f"{v:.2f}" if isinstance(v, float) else str(v) for v in row) + " |")
    refusals = collections.Counter(
        (k, r["signature"], r["message"][:110]) for k, r in findings if r["outcome"] == "refused"
    )
    if refusals:
        print("\nrefusals (export, signature, message: count):")
        for (kind, signature, message), n in sorted(refusals.items()):
            print(f"  {kind} {signature}: {message}  x{n}")
    bad = [(k, r) for k, r in findings if r["outcome"] in BAD]
    for kind, r in bad:
        print(f"FINDING {kind} {r['signature']} [{r['case']}] {r['outcome']}: {r['message']}")
    print(f"\n{'FAILED' if bad else 'PASSED'}: {sum(r[2] for r in rows)} calls, "
          f"{len(bad)} findings, {time.monotonic() - started:.0f} s")  # fmt: skip
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    app.run(main)

"""Serving load: the exported classifier and generator, each called from --threads
threads for --seconds in one process that imports only tensorflow + tensorflow_text:
errors, p50/p99 latency, throughput, and resident memory (RSS), read after a warm-up
(--warmup_seconds of the same load from the same threads) and at the end of each of
--windows windows per model: a leak grows in every window, while allocator arenas and
per-shape kernel caches fill and stop (generate: +36, +26, +4 MB in 40-s windows), so the
last window of each model may grow by at most --rss_margin_mb.

    nice -n 19 taskset -c 1 python -m tools.serving_load --seconds=60
    python -m tools.serving_load --classifier=saved_models/classify-mini/1 --generator=...

Without --classifier / --generator, tiny untrained exports are built first (in a
subprocess, so the library never enters this process). Requests: 1-8 texts of mixed
length (corpus sentences, some hostile) to `classify`; 1-4 prompts to `generate` with
16 new tokens, sampled (temperature 0.8, top-k 40, a seed per request).
"""

import os
import random
import subprocess
import sys
import tempfile
import threading
import time

from absl import app, flags

flags.DEFINE_string("classifier", "", "a classify SavedModel version dir (default: built)")
flags.DEFINE_string("generator", "", "a clm SavedModel version dir (default: built)")
flags.DEFINE_integer("threads", 8, "concurrent callers per model")
flags.DEFINE_float("seconds", 60.0, "load time per model")
flags.DEFINE_float("rss_margin_mb", 20.0, "allowed RSS growth in each model's last window")
flags.DEFINE_integer("windows", 3, "load windows per model (RSS read at each one's end)")
flags.DEFINE_float("warmup_seconds", 15.0, "load per model, from all threads, before RSS is read")
FLAGS = flags.FLAGS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = "from tools.tiny_exports import build_exports; import json, sys; " \
    "print(json.dumps(build_exports(sys.argv[1], ('classify', 'clm_rope_bpe'))))"  # fmt: skip


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        line = next(x for x in f if x.startswith("VmRSS:"))
    return int(line.split()[1]) / 1024


def build() -> tuple[str, str]:
    import json

    folder = tempfile.mkdtemp(prefix="serving_load-")
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", BUILD, folder], env=env, cwd=ROOT,
                          capture_output=True, text=True, check=True)  # fmt: skip
    paths = json.loads(done.stdout.strip().splitlines()[-1])
    return paths["classify"], paths["clm_rope_bpe"]


def texts() -> list[bytes]:
    from tools.tiny_data import corpus_lines, hostile_bytes

    lines = [x.encode() for x in corpus_lines(40)]
    return lines + list(hostile_bytes().values())


def percentile_ms(latencies: list[float], q: float) -> float:
    """The `q` quantile of sorted `latencies` (seconds), in milliseconds; 0 when empty."""
    return 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else 0


def load(name: str, call, seconds: float, threads: int) -> dict:
    """`call(rng)` -> rows, from `threads` threads for `seconds`; latencies and errors."""
    latencies, rows, errors, lock = [], [0], [], threading.Lock()
    stop = time.monotonic() + seconds

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        while time.monotonic() < stop:
            started = time.monotonic()
            try:
                n = call(rng)
            except Exception as e:  # noqa: BLE001  (counted and reported)
                with lock:
                    errors.append(f"{type(e).__name__}: {e}"[:200])
                continue
            with lock:
                latencies.append(time.monotonic() - started)
                rows[0] += n

    samples, begun = [], time.monotonic()
    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    while any(t.is_alive() for t in pool):
        samples.append(rss_mb())
        time.sleep(0.5)
    elapsed = time.monotonic() - begun
    latencies.sort()

    return {"name": name, "requests": len(latencies), "errors": errors, "rows": rows[0],
            "p50": percentile_ms(latencies, 0.5), "p99": percentile_ms(latencies, 0.99), "rps": len(latencies) / elapsed,
            "rows_s": rows[0] / elapsed, "rss": samples, "latencies": latencies,
            "seconds": elapsed}  # fmt: skip


def windowed(name: str, call, seconds: float, threads: int, windows: int) -> dict:
    """`load` in `windows` consecutive windows: the merged numbers, and RSS at each
    window's end (`rss_marks`, after the starting RSS), to tell a plateau from a leak."""
    parts = [load(name, call, seconds / windows, threads) for _ in range(windows)]
    latencies = sorted(x for p in parts for x in p["latencies"])
    elapsed = sum(p["seconds"] for p in parts)

    return {"name": name, "requests": len(latencies), "rows": sum(p["rows"] for p in parts),
            "errors": [e for p in parts for e in p["errors"]], "p50": percentile_ms(latencies, 0.5), "p99": percentile_ms(latencies, 0.99),
            "rps": len(latencies) / elapsed, "rows_s": sum(p["rows"] for p in parts) / elapsed,
            "rss": [x for p in parts for x in p["rss"]],
            "rss_marks": [parts[0]["rss"][0]] + [p["rss"][-1] for p in parts]}  # fmt: skip


def main(argv):
    del argv
    classifier, generator = FLAGS.classifier, FLAGS.generator
    if not (classifier and generator):
        built = build()
        classifier, generator = classifier or built[0], generator or built[1]
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers the TF-Text ops)

    pool = texts()
    models = {"classifier": tf.saved_model.load(classifier),
              "generator": tf.saved_model.load(generator)}  # fmt: skip
    classify = models["classifier"].signatures["serving_default"]
    generate = models["generator"].signatures["generate"]

    def call_classify(rng: random.Random) -> int:
        batch = rng.choices(pool, k=rng.randint(1, 8))
        out = classify(text=tf.constant(batch))
        assert out["probabilities"].shape[0] == len(batch)
        return len(batch)

    def call_generate(rng: random.Random) -> int:
        batch = rng.choices(pool, k=rng.randint(1, 4))
        out = generate(prompt=tf.constant(batch), max_new_tokens=tf.constant(16),
                       temperature=tf.constant(0.8), top_k=tf.constant(40),
                       top_p=tf.constant(1.0), seed=tf.constant(rng.randint(0, 2**30)))  # fmt: skip
        assert out["text"].shape[0] == len(batch)
        return len(batch)

    # Warm-up with the same threads: each caller thread's first requests allocate (its
    # malloc arena, TF's per-thread buffers); a one-thread warm-up counted those as growth.
    for name, call in (("classify", call_classify), ("generate", call_generate)):
        warm = load(name, call, FLAGS.warmup_seconds, FLAGS.threads)
        if warm["errors"]:
            print(f"warm-up {name}: {len(warm['errors'])} errors, e.g. {warm['errors'][0]}")
    rss_start = rss_mb()
    print(f"classifier {classifier}\ngenerator {generator}\nRSS after warm-up {rss_start:.0f} MB")
    results = [windowed(name, call, FLAGS.seconds, FLAGS.threads, FLAGS.windows) for name, call in
               (("classify", call_classify), ("generate (16 new tokens)", call_generate))]  # fmt: skip
    rss_end = rss_mb()
    peak = max(max(r["rss"]) for r in results)
    print()
    print(f"| {FLAGS.threads} threads x {FLAGS.seconds:.0f} s | requests | errors | p50 ms | p99 ms "
          f"| requests/s | rows/s | RSS MB at each of {FLAGS.windows} windows' end |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        marks = " → ".join(f"{x:.0f}" for x in r["rss_marks"])
        print(f"| {r['name']} | {r['requests']:,} | {len(r['errors'])} | {r['p50']:.0f} | "
              f"{r['p99']:.0f} | {r['rps']:.1f} | {r['rows_s']:.1f} | {marks} |")  # fmt: skip
    # a leak grows in every window; allocator and kernel caches fill, then stop
    last = {r["name"]: r["rss_marks"][-1] - r["rss_marks"][-2] for r in results}
    ok = not any(r["errors"] for r in results) and max(last.values()) <= FLAGS.rss_margin_mb
    print(f"\nRSS {rss_start:.0f} MB after warm-up, {rss_end:.0f} MB at the end (peak {peak:.0f}): "
          f"growth {rss_end - rss_start:+.0f} MB in all; in each model's last window "
          + ", ".join(f"{k} {v:+.0f} MB" for k, v in last.items())
          + f" (margin {FLAGS.rss_margin_mb:.0f} MB)")  # fmt: skip
    for r in results:
        for error in sorted(set(r["errors"]))[:5]:
            print(f"ERROR {r['name']}: {error}")
    print("PASSED" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    app.run(main)

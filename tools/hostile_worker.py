"""Run by `tools.hostile_requests` in a fresh process that imports only tensorflow and
tensorflow_text (as TF Serving would hold an export): loads one SavedModel and calls
every signature with the hostile cases; prints one JSON line per call.

    python tools/hostile_worker.py <job.json>

Job: {"path", "texts": {name: hex of the request bytes}, "max_seconds", "atol"}.
Outcomes: ok, refused (InvalidArgumentError: a documented refusal), error (any other
exception), nan (a non-finite float output), slow (over max_seconds), mismatch (a row
answered alone differs from the same row answered in a batch).
"""

import json
import sys
import time

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the TF-Text ops)

CONTROLS = {"max_new_tokens": 8, "temperature": 0.0, "top_k": 0, "top_p": 1.0, "seed": 0}
HOSTILE_CONTROLS = {
    "max_new_tokens=-5": {"max_new_tokens": -5},
    "max_new_tokens=2**31-1": {"max_new_tokens": 2**31 - 1},
    "temperature=nan": {"temperature": float("nan")},
    "temperature=-1": {"temperature": -1.0},
    "temperature=1e30": {"temperature": 1e30},
    "temperature=1e-30": {"temperature": 1e-30},
    "top_k=-3": {"top_k": -3, "temperature": 1.0},
    "top_k=2**31-1": {"top_k": 2**31 - 1, "temperature": 1.0},
    "top_p=nan": {"top_p": float("nan"), "temperature": 1.0},
    "top_p=0": {"top_p": 0.0, "temperature": 1.0},
    "top_p=-1": {"top_p": -1.0, "temperature": 1.0},
    "seed=-1": {"seed": -1, "temperature": 1.0},
}


def emit(**record) -> None:
    print(json.dumps(record), flush=True)


def inputs_of(signature) -> dict[str, tf.TensorSpec]:
    return dict(signature.structured_input_signature[1])


def call(signature, name: str, case: str, feed: dict, max_seconds: float):
    """Calls once; emits the outcome; returns the numpy outputs (None when it failed)."""
    emit(start=f"{name}/{case}")  # the last line a crashed process wrote names the call
    started = time.monotonic()
    try:
        out = {k: v.numpy() for k, v in signature(**feed).items()}
    except tf.errors.InvalidArgumentError as e:
        emit(signature=name, case=case, outcome="refused", seconds=time.monotonic() - started,
             message=what(e.message))  # fmt: skip
        return None
    except Exception as e:  # noqa: BLE001  (any other exception is the finding)
        emit(signature=name, case=case, outcome="error", seconds=time.monotonic() - started,
             message=f"{type(e).__name__}: {e}"[:400])  # fmt: skip
        return None
    seconds = time.monotonic() - started
    bad = [k for k, v in out.items() if v.dtype.kind == "f" and not np.isfinite(v).all()]
    outcome = "nan" if bad else "slow" if seconds > max_seconds else "ok"
    emit(signature=name, case=case, outcome=outcome, seconds=seconds,
         message=f"non-finite {bad}" if bad else "")  # fmt: skip
    return out


def what(message: str) -> str:
    """The op's own words of an error message, without TF's graph-execution wrapping."""
    skip = ("Graph execution error", "Detected at node", "File ", "  ", "Traceback")
    lines = [x.strip() for x in message.splitlines() if x.strip() and not x.startswith(skip)]
    return " ".join(lines)[:200]


def row_differs(alone: dict, batch: dict, row: int, atol: float) -> str:
    """'' when row `row` of `batch` answers as `alone` (batch of one) did; padding to
    the batch's longest row is allowed, so the overlap is compared."""
    for key, a in alone.items():
        a, b = np.asarray(a[0]), np.asarray(batch[key][row])
        overlap = tuple(slice(0, min(x, y)) for x, y in zip(a.shape, b.shape, strict=True))
        a, b = a[overlap], b[overlap]
        if a.dtype.kind == "f":  # perplexity = exp(...): a relative 1e-5 too
            if a.size and not np.allclose(a, b, rtol=1e-5, atol=atol):
                return f"{key}: max diff {float(np.max(np.abs(a - b))):.2e}"
        elif not np.array_equal(a, b):
            return f"{key}: {a.tolist()!r:.120} vs {b.tolist()!r:.120}"
    return ""


def text_cases(signature, name: str, texts: dict[str, bytes], job: dict) -> None:
    specs = inputs_of(signature)
    strings = [k for k, s in specs.items() if s.dtype == tf.string]
    scalars = {k: tf.constant(CONTROLS[k], s.dtype) for k, s in specs.items() if s.shape.rank == 0}
    names = list(texts)

    def feed(rows: list[bytes], **controls) -> dict:
        values = {k: tf.constant(v, specs[k].dtype) for k, v in controls.items()}
        return {**{k: tf.constant(rows, tf.string) for k in strings}, **scalars, **values}

    alone = {n: call(signature, name, n, feed([texts[n]]), job["max_seconds"]) for n in names}
    batch = call(signature, name, f"batch of {len(names)} mixed", feed(list(texts.values())),
                 job["max_seconds"] * len(names))  # fmt: skip
    if batch is not None:
        for row, n in enumerate(names):
            if alone[n] is not None:
                why = row_differs(alone[n], batch, row, job["atol"])
                emit(signature=name, case=f"{n} alone vs batch", outcome="mismatch" if why else "same",
                     seconds=0.0, message=why)  # fmt: skip
    call(signature, name, "batch of 0", feed([]), job["max_seconds"])
    if len(strings) == 2:  # a pair signature: mismatched sizes are refused
        rows = {strings[0]: [texts["normal"]] * 3, strings[1]: [texts["normal"]]}
        mismatched = {k: tf.constant(v) for k, v in rows.items()}
        call(signature, name, "pair sizes 3 vs 1", {**mismatched, **scalars}, job["max_seconds"])
    if scalars:  # hostile controls with a normal prompt
        for case, controls in HOSTILE_CONTROLS.items():
            call(signature, name, case, feed([texts["normal"]] * 2, **controls), job["max_seconds"])


def token_cases(signature, name: str, job: dict) -> None:
    specs = inputs_of(signature)
    rng = np.random.default_rng(0)
    fixed = rng.integers(5, 50, (2, 8))

    def feed(batch=2, length=8, ids=None, mask=None, positions=None, mask_length=None):
        if ids is None:
            ids = fixed if (batch, length) == (2, 8) else rng.integers(5, 50, (batch, length))
        values = {
            "token_ids": ids,
            "segment_ids": np.zeros_like(ids),
            "padding_mask": np.ones((batch, mask_length or length)) if mask is None else mask,
            "mask_positions": np.tile([[1, 2]], (batch, 1)) if positions is None else positions,
        }
        return {k: tf.constant(values[k], s.dtype) for k, s in specs.items()}

    valid = call(signature, name, "valid (2, 8)", feed(), job["max_seconds"])
    first = call(signature, name, "row 0 alone", {k: v[:1] for k, v in feed().items()},
                 job["max_seconds"])  # fmt: skip
    if valid is not None and first is not None:
        why = row_differs(first, valid, 0, job["atol"])
        emit(signature=name, case="row alone vs batch", outcome="mismatch" if why else "same",
             seconds=0.0, message=why)  # fmt: skip
    cases = {
        "batch of 0": feed(batch=0),
        "length 0": feed(length=0, positions=np.zeros((2, 0))),
        "ids out of range (10**6)": feed(ids=np.full((2, 8), 10**6)),
        "negative ids": feed(ids=np.full((2, 8), -1)),
        "padding_mask all 0": feed(mask=np.zeros((2, 8))),
        "mask shorter than ids": feed(mask_length=5),
        "length 2000": feed(batch=1, length=2000, positions=np.array([[1, 2]])),
        "mask_positions out of range": feed(positions=np.array([[100, -1], [7, 999]])),
    }
    for case, values in cases.items():
        call(signature, name, case, values, job["max_seconds"])


def main() -> None:
    with open(sys.argv[1]) as f:
        job = json.load(f)
    texts = {k: bytes.fromhex(v) for k, v in job["texts"].items()}
    loaded = tf.saved_model.load(job["path"])
    emit(imports=sorted(m for m in sys.modules if m.split(".")[0] in ("bertgpt_tf", "pipelines")))
    for name, signature in sorted(loaded.signatures.items()):
        if any(s.dtype == tf.string for s in inputs_of(signature).values()):
            text_cases(signature, name, texts, job)
        else:
            token_cases(signature, name, job)
    emit(done=True)


if __name__ == "__main__":
    main()

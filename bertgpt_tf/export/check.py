"""Servability check of an exported SavedModel, without the TF Serving binary.

    python -m tools.check_export saved_models/<name>/<version> [--releases=2.20,2.12-2.19]

(a repository tool, like `tools/serving_env.py`, which builds the release environments of
(c) with venv + pip: tooling, not library). Here: `check` and its report.

(a) a fresh process importing only tensorflow + tensorflow_text loads the model and calls
    every signature with the warmup requests (`assets.extra/tf_serving_warmup_requests`);
(b) every op of the graph and its function library must be registered by core TF or
    TF-Text (and not run Python); the TF-Text ops are compared with what each TF Serving
    release links: 2.12-2.19 link TF-Text 2.12.1 (no RoundRobinTrim, tensorflow/serving
    #2267), 2.20 links TF 2.20 + TF-Text 2.20;
(c) the same worker runs under TF 2.20 + TF-Text 2.20 in an environment created once and
    cached (`$BERTGPT_SERVING_ENVS`, else ~/.cache/bertgpt_tf/serving-envs), and its
    outputs must match this environment's; `check(environment=...)` says how to get it:
    by default an existing one is used (`find_serving_env`), `tools.serving_env.serving_env`
    creates it when missing;
(d) requests go in as the REST bodies TF Serving accepts, columnar (`inputs`) and row
    (`instances`, when every input is batched), and responses are encoded as TF Serving's
    JSON would be (no bfloat16/float16, strings valid UTF-8 unless named *_bytes).
`CheckResult.problems` lists what failed (the command line then exits 1).
"""

import base64
import concurrent.futures
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable

import numpy as np

from bertgpt_tf.export.warmup import read_warmup_requests

WORKER = os.path.join(os.path.dirname(__file__), "serving_worker.py")
TEXT_OPS_DIR = os.path.join(os.path.dirname(__file__), "tf_text_ops")


@dataclasses.dataclass(frozen=True)
class ServingRelease:
    """What a TF Serving release links. `packages` pins an environment in which the
    model is loaded and run; `text_ops_version` names a committed list of the TF-Text
    ops of the TF-Text release it links (regenerate: `--write_text_ops=VERSION`)."""

    packages: tuple[str, ...] = ()
    text_ops_version: str = ""


SERVING_RELEASES = {
    "2.20": ServingRelease(packages=("tensorflow==2.20.*", "tensorflow-text==2.20.*")),
    "2.12-2.19": ServingRelease(text_ops_version="2.12.1"),
}
DEFAULT_RELEASES = ("2.20", "2.12-2.19")


def _to_json(value):
    """A numpy value -> JSON, strings as UTF-8 text or {"b64": ...} (TF Serving's rule)."""
    if isinstance(value, np.ndarray):
        return [_to_json(v) for v in value] if value.ndim else _to_json(value.item())
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return {"b64": base64.b64encode(value).decode("ascii")}
    return value.item() if isinstance(value, np.generic) else value


def rest_bodies(requests: list[tuple[str, dict[str, np.ndarray]]]) -> list[tuple[int, dict]]:
    """Each warmup request as TF Serving REST predict bodies, (request index, body):
    columnar (`inputs`) always, row (`instances`) when every input has the same leading
    (batch) dimension."""
    bodies = []
    for i, (name, inputs) in enumerate(requests):
        bodies.append(
            (i, {"signature_name": name, "inputs": {k: _to_json(v) for k, v in inputs.items()}})
        )
        sizes = {v.shape[0] if v.ndim else None for v in inputs.values()}
        if len(sizes) == 1 and None not in sizes:
            rows = [{k: _to_json(v[j]) for k, v in inputs.items()} for j in range(sizes.pop())]
            bodies.append((i, {"signature_name": name, "instances": rows}))
    return bodies


def run_worker(python: str, *args: str) -> dict:
    """Runs serving_worker.py with `python` in a clean process and working directory."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    with tempfile.TemporaryDirectory() as cwd:
        report = os.path.join(cwd, "report.json")
        process = subprocess.run(
            [python, WORKER, *args, report], env=env, cwd=cwd, capture_output=True, text=True
        )
        if process.returncode != 0:
            raise RuntimeError(f"serving worker ({python}) failed:\n{process.stderr[-4000:]}")
        with open(report) as f:
            return json.load(f)


def release_env_name(release: str) -> str:
    """The cached environment's name for a TF Serving release of `SERVING_RELEASES`."""
    return f"tf{release}"


def serving_envs_dir() -> str:
    default = os.path.join(os.path.expanduser("~"), ".cache", "bertgpt_tf", "serving-envs")
    return os.environ.get("BERTGPT_SERVING_ENVS", default)


def find_serving_env(name: str, packages: tuple[str, ...] = ()) -> str:
    """Python of the cached environment `name` (`packages`: what it was built with; built by
    `python -m tools.serving_env`, or by the check run with `tools.serving_env.serving_env`)."""
    del packages
    root = os.path.join(serving_envs_dir(), name)
    python = os.path.join(root, "bin", "python")
    if not os.path.exists(python):
        raise FileNotFoundError(
            f"no serving environment {root} (python -m tools.serving_env builds it)"
        )
    return python


def text_ops_of(version: str) -> set[str]:
    path = os.path.join(TEXT_OPS_DIR, f"{version}.json")
    with open(path) as f:
        return set(json.load(f)["ops"])


def _outputs_differ(a: dict, b: dict, tolerance: float) -> str:
    """'' if two JSON output dicts match (numbers within `tolerance`), else why not."""
    if sorted(a) != sorted(b):
        return f"output names {sorted(a)} != {sorted(b)}"
    for key in a:
        x, y = np.array(a[key], dtype=object), np.array(b[key], dtype=object)
        if x.shape != y.shape:
            return f"{key}: shape {x.shape} != {y.shape}"
        if x.size and isinstance(x.flat[0], float | int) and not isinstance(x.flat[0], bool):
            diff = np.max(np.abs(x.astype(float) - y.astype(float)))
            if not diff <= tolerance * max(1.0, float(np.max(np.abs(x.astype(float))))):
                return f"{key}: max abs diff {diff:.3g}"
        elif not (x == y).all():
            return f"{key}: values differ"
    return ""


@dataclasses.dataclass
class CheckResult:
    """`problems` (empty when servable); `report` with each environment's op audit and
    calls (each call's `request` indexes `requests`)."""

    problems: list[str]
    report: dict
    requests: list = dataclasses.field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _call_problems(calls: list[dict], where: str) -> list[str]:
    problems = [
        f"{where}: {c['signature_name']} ({c['format']}) failed: {c['error']}"
        for c in calls
        if not c["ok"]
    ]
    columnar = {c["request"]: c for c in calls if c["ok"] and c["format"] == "inputs"}
    for c in calls:  # row and columnar answers to the same request must agree
        if c["ok"] and c["format"] == "instances" and c["request"] in columnar:
            why = _outputs_differ(columnar[c["request"]]["outputs"], c["outputs"], 1e-6)
            if why:
                problems.append(f"{where}: {c['signature_name']} row vs columnar: {why}")
    return problems


def check(
    saved_model_dir: str,
    releases: tuple[str, ...] = DEFAULT_RELEASES,
    environment: Callable[[str, tuple[str, ...]], str] = find_serving_env,
    extra_requests: tuple = (),
) -> CheckResult:
    """Runs (a)-(d) on `saved_model_dir` with its warmup requests and `extra_requests`
    ((signature name, {input: array}) pairs); `releases` picks the TF Serving releases;
    `environment(name, packages)` gives the Python of a release's environment."""
    if not os.path.exists(os.path.join(saved_model_dir, "saved_model.pb")):
        return CheckResult([f"not a SavedModel directory: {saved_model_dir}"], {})
    try:
        requests = read_warmup_requests(saved_model_dir) + list(extra_requests)
    except (OSError, ValueError) as e:
        return CheckResult([f"TF Serving warmup requests unusable: {e}"], {})
    bodies = rest_bodies(requests)
    with tempfile.TemporaryDirectory() as tmp:
        bodies_path = os.path.join(tmp, "bodies.json")
        with open(bodies_path, "w") as f:
            json.dump([body for _, body in bodies], f)

        def run(python: str) -> dict:
            report = run_worker(python, "call", os.path.abspath(saved_model_dir), bodies_path)
            for (index, _), call in zip(bodies, report["calls"], strict=True):
                call["request"] = index
            return report

        # every environment's worker at once: each spends seconds importing TensorFlow
        pythons = {
            name: environment(release_env_name(name), SERVING_RELEASES[name].packages)
            for name in releases
            if SERVING_RELEASES[name].packages
        }
        with concurrent.futures.ThreadPoolExecutor(len(pythons) + 1) as pool:
            reports = {n: pool.submit(run, python) for n, python in pythons.items()}
            here = run(sys.executable)
            reports = {n: report.result() for n, report in reports.items()}
        problems = _call_problems(here["calls"], "this environment")
        missing = sorted(set(here["signatures"]) - {name for name, _ in requests})
        if missing:
            problems.append(f"no warmup request for signatures {missing}")
        if here["unregistered_ops"]:
            problems.append(f"ops in neither core TF nor TF-Text: {here['unregistered_ops']}")
        if here["python_ops"]:
            problems.append(f"ops that need Python (TF Serving has none): {here['python_ops']}")
        if here["leaked_imports"]:
            problems.append(f"loading imported {here['leaked_imports']}")
        report = {"this_environment": here, "releases": {}}
        for name in releases:
            release = SERVING_RELEASES[name]
            result = report["releases"][name] = {}
            if release.text_ops_version:
                lacking = sorted(set(here["text_ops"]) - text_ops_of(release.text_ops_version))
                result["text_ops_lacking"] = lacking
                if lacking:
                    problems.append(
                        f"TF Serving {name} (TF-Text {release.text_ops_version}) lacks {lacking}"
                    )
            if release.packages:
                there = reports[name]
                where = f"TF {there['tensorflow_version']}"
                problems += _call_problems(there["calls"], where)
                if there["unregistered_ops"]:
                    problems.append(f"{where} lacks ops {there['unregistered_ops']}")
                for mine, theirs in zip(here["calls"], there["calls"], strict=True):
                    why = mine["ok"] and theirs["ok"]
                    why = why and _outputs_differ(mine["outputs"], theirs["outputs"], 1e-4)
                    if why:
                        problems.append(f"{where}: {mine['signature_name']} differs: {why}")
                result.update(
                    tensorflow_version=there["tensorflow_version"],
                    tensorflow_text_version=there["tensorflow_text_version"],
                    calls_ok=sum(c["ok"] for c in there["calls"]),
                    calls=len(there["calls"]),
                )
    return CheckResult(problems, report, requests)


def example_exchanges(result: CheckResult, bodies_per_signature: int = 1) -> str:
    """The first REST body of each signature and the start of the JSON TF Serving would
    answer, as README examples."""
    lines, shown = [], {}
    for call in result.report["this_environment"]["calls"]:
        name = call["signature_name"]
        if call["ok"] and shown.get(name, 0) < bodies_per_signature:
            shown[name] = shown.get(name, 0) + 1
            body = rest_bodies([result.requests[call["request"]]])
            body = next(b for _, b in body if call["format"] in b)
            lines += [f"POST :predict {json.dumps(body)}", f"  -> {call['response_head']}"]
    return "\n".join(lines)


def format_report(saved_model_dir: str, result: CheckResult) -> str:
    if not result.report:
        return f"SavedModel {saved_model_dir}\nFAILED:\n  " + "\n  ".join(result.problems)
    here = result.report["this_environment"]
    lines = [
        f"SavedModel {saved_model_dir}",
        f"  TF {here['tensorflow_version']} / TF-Text {here['tensorflow_text_version']}, "
        f"fresh process, loaded in {here['load_seconds']:.1f} s",
        f"  {len(here['ops'])} op types; TF-Text ops: {', '.join(here['text_ops']) or 'none'}",
        f"  {'signature':<22}{'REST body':<11}{'result':<8}{'ms':>8}{'JSON bytes':>12}",
    ]
    for c in here["calls"]:
        ms = f"{1000 * c['seconds']:.1f}" if c["ok"] else "-"
        size = str(c["response_bytes"]) if c["ok"] else "-"
        status = "ok" if c["ok"] else "FAILED"
        lines.append(f"  {c['signature_name']:<22}{c['format']:<11}{status:<8}{ms:>8}{size:>12}")
    for name, r in result.report["releases"].items():
        parts = []
        if "text_ops_lacking" in r:
            parts.append(f"TF-Text ops lacking: {r['text_ops_lacking'] or 'none'}")
        if "calls" in r:
            parts.append(
                f"ran under TF {r['tensorflow_version']} + TF-Text "
                f"{r['tensorflow_text_version']}: {r['calls_ok']}/{r['calls']} calls ok"
            )
        lines.append(f"  TF Serving {name}: {'; '.join(parts)}")
    lines.append("PASSED" if result.ok else "FAILED:\n  " + "\n  ".join(result.problems))
    return "\n".join(lines)

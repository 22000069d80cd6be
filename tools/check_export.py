"""Servability check of exported SavedModels, the command line (`bertgpt_tf.export.check`
holds the check; see its docstring for (a)-(d)).

    python -m tools.check_export saved_models/<name>/<version> [...] [--releases=2.20,2.12-2.19]
        [--nocreate_envs] [--show_requests] [--report=report.json]
    python -m tools.check_export --write_text_ops=2.12.1

Missing release environments are built on first use (`tools/serving_env.py`). Exits 1 and
lists the problems when any check fails.
"""

import functools
import json
import os

from absl import app, flags

from bertgpt_tf.export.check import (
    DEFAULT_RELEASES,
    SERVING_RELEASES,
    TEXT_OPS_DIR,
    check,
    example_exchanges,
    format_report,
    run_worker,
)
from tools.serving_env import serving_env


def write_text_ops(version: str) -> str:
    """Lists the ops TF-Text `version` registers (in its own environment) into
    `tf_text_ops/<version>.json`, the file the check compares exports against."""
    minor = ".".join(version.split(".")[:2])
    python = serving_env(
        f"text-{version}", (f"tensorflow=={minor}.*", f"tensorflow-text=={version}", "numpy<2")
    )
    report = run_worker(python, "text-ops")
    os.makedirs(TEXT_OPS_DIR, exist_ok=True)
    path = os.path.join(TEXT_OPS_DIR, f"{version}.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    return path


FLAGS = flags.FLAGS
flags.DEFINE_list(
    "releases", list(DEFAULT_RELEASES), f"TF Serving releases: {list(SERVING_RELEASES)}"
)
flags.DEFINE_boolean("create_envs", True, "Create missing release environments (needs PyPI).")
flags.DEFINE_string("write_text_ops", None, "Regenerate tf_text_ops/<VERSION>.json and exit.")
flags.DEFINE_string("report", None, "Also write the full report as JSON here.")
flags.DEFINE_boolean("show_requests", False, "Print a REST body and response per signature.")


def main(argv):
    if FLAGS.write_text_ops:
        print(write_text_ops(FLAGS.write_text_ops))
        return 0
    if len(argv) < 2:
        raise app.UsageError("usage: python -m tools.check_export SAVED_MODEL_DIR [...]")
    unknown = sorted(set(FLAGS.releases) - set(SERVING_RELEASES))
    if unknown:
        raise app.UsageError(f"unknown releases {unknown}; known: {list(SERVING_RELEASES)}")
    environment = functools.partial(serving_env, create=FLAGS.create_envs)
    failed = 0
    for saved_model_dir in argv[1:]:
        result = check(saved_model_dir, tuple(FLAGS.releases), environment)
        print(format_report(saved_model_dir, result), flush=True)
        if FLAGS.show_requests and result.report:
            print(example_exchanges(result, 2))
        if FLAGS.report:
            with open(FLAGS.report, "w") as f:
                json.dump({"problems": result.problems, **result.report}, f, indent=1)
        failed += not result.ok
    return 1 if failed else 0


if __name__ == "__main__":
    app.run(main)

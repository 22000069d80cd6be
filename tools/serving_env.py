"""Builds the cached environments the servability check runs exports in (tooling, not library).

    python -m tools.serving_env [--release=2.20] [--nocreate]

builds the venv of a TF Serving release of `bertgpt_tf.export.check.SERVING_RELEASES`
(TF 2.20 + TF-Text 2.20: a few minutes, TensorFlow is a large download) if it is missing,
and prints its Python. Environments live under `$BERTGPT_SERVING_ENVS`, else
~/.cache/bertgpt_tf/serving-envs; the library's check only finds them
(`bertgpt_tf.export.check.find_serving_env`), `serving_env` here also creates them:
`check(..., environment=serving_env)`.
"""

import fcntl
import os
import subprocess
import sys
import tempfile

from absl import app, flags, logging

from bertgpt_tf.export.check import (
    SERVING_RELEASES,
    find_serving_env,
    release_env_name,
    serving_envs_dir,
)


def serving_env(name: str, packages: tuple[str, ...], create: bool = True) -> str:
    """Python of a cached venv with `packages`, created on first use (a few minutes:
    TensorFlow is a large download). Created under a temporary name, then renamed."""
    try:
        return find_serving_env(name, packages)
    except FileNotFoundError:
        if not create:
            raise
    root = os.path.join(serving_envs_dir(), name)
    python = os.path.join(root, "bin", "python")
    os.makedirs(serving_envs_dir(), exist_ok=True)
    # one creator at a time (parallel test workers): the others wait, then reuse it
    with open(os.path.join(serving_envs_dir(), f".{name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(python):
            _create_env(root, packages)
    return python


def _create_env(root: str, packages: tuple[str, ...]) -> None:
    name = os.path.basename(root)
    staging = tempfile.mkdtemp(prefix=f".{name}-", dir=serving_envs_dir())
    logging.info("creating environment %s with %s (one time)", root, " ".join(packages))
    base_python = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base_python, "-m", "venv", "--clear", staging], check=True)
    pip = [os.path.join(staging, "bin", "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, *packages], check=True)
    os.rename(staging, root)  # only bin/python is used: it runs wherever the venv lies


def release_env(release: str, create: bool = True) -> str:
    """Python of the environment of TF Serving `release` (a key of `SERVING_RELEASES`)."""
    return serving_env(release_env_name(release), SERVING_RELEASES[release].packages, create)


FLAGS = flags.FLAGS
flags.DEFINE_string(
    "release",
    "2.20",
    f"TF Serving release: {[name for name, r in SERVING_RELEASES.items() if r.packages]}",
)
flags.DEFINE_boolean("create", True, "Create the environment if missing (needs PyPI).")


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments {argv[1:]}")
    release = SERVING_RELEASES.get(FLAGS.release)
    if release is None or not release.packages:
        known = [name for name, r in SERVING_RELEASES.items() if r.packages]
        raise app.UsageError(f"no environment for release {FLAGS.release!r}; known: {known}")
    print(release_env(FLAGS.release, FLAGS.create))
    return 0


if __name__ == "__main__":
    app.run(main)

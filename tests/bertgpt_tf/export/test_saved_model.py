"""`export_saved_model` under concurrency and crashes: each export stages in a folder of
its own, fsyncs it, and renames it to a version no other export has (issue 13, item 9)."""

import json
import os
import subprocess
import sys
import time

import pytest
import tensorflow as tf

from bertgpt_tf.export import saved_model
from bertgpt_tf.export.saved_model import export_saved_model
from tests.bertgpt_tf.export.export_worker import TagServing

HERE = os.path.dirname(__file__)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))


def _answer(path: str) -> str:
    reloaded = tf.saved_model.load(path)
    return reloaded.signatures["tag"](text=tf.constant(["x"]))["text"].numpy()[0].decode()


def _card(path: str) -> dict:
    with open(os.path.join(path, "model_card.json")) as f:
        return json.load(f)


def test_two_exports_racing_get_a_version_each(tmp_path):
    """Two processes export the same name at once (both see version 1 free while they
    stage): both finish, one as 1 and one as 2, each with its own weights and card."""
    base, go = tmp_path / "saved_models", tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "2"}
    workers = []
    for tag in ("-first", "-second"):
        ready = tmp_path / f"ready{tag}"
        command = [sys.executable, os.path.join(HERE, "export_worker.py"), str(base), "race",
                   tag, str(ready), str(go)]  # fmt: skip
        workers.append((subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True), ready))  # fmt: skip
    deadline = time.monotonic() + 300
    while not all(ready.exists() for _, ready in workers):
        assert time.monotonic() < deadline and all(w.poll() is None for w, _ in workers)
        time.sleep(0.1)
    go.touch()
    paths = {}
    for (worker, _), tag in zip(workers, ("-first", "-second"), strict=True):
        out, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err[-3000:]
        paths[tag] = out.strip().splitlines()[-1]
    assert sorted(os.path.basename(p) for p in paths.values()) == ["1", "2"]
    for tag, path in paths.items():
        assert _answer(path) == "x" + tag
        assert _card(path)["version"] == int(os.path.basename(path))
    assert sorted(os.listdir(base / "race")) == ["1", "2"]  # no staging folder left


def test_files_are_fsynced_before_the_rename_and_others_staging_is_kept(tmp_path, monkeypatch):
    base = tmp_path / "saved_models"
    other = base / "tagged" / ".tmp-1"  # a concurrent (or crashed) export's staging
    other.mkdir(parents=True)
    (other / "saved_model.pb").write_bytes(b"theirs")
    synced, renamed = [], []
    fsync, rename = os.fsync, os.rename

    def record_fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        fsync(fd)

    def record_rename(source, target):
        renamed.append((source, target, len(synced)))
        rename(source, target)

    monkeypatch.setattr(os, "fsync", record_fsync)
    monkeypatch.setattr(os, "rename", record_rename)
    path = export_saved_model(TagServing("-t"), str(base), "tagged")
    assert path == str(base / "tagged" / "1") and _answer(path) == "x-t"
    assert (other / "saved_model.pb").read_bytes() == b"theirs"
    staging, _, synced_by_then = next(r for r in renamed if r[1] == path)
    staged = {os.path.relpath(p, staging) for p in synced[:synced_by_then]}
    for name in ("saved_model.pb", "model_card.json", "variables/variables.index",
                 "assets.extra/tf_serving_warmup_requests", "."):  # fmt: skip
        assert name in staged, (name, sorted(staged))
    assert synced[-1] == str(base / "tagged")  # the rename itself, in the parent folder


def test_a_taken_version_is_refused_and_a_failed_export_leaves_nothing(tmp_path, monkeypatch):
    base = str(tmp_path)
    export_saved_model(TagServing("-a"), base, "tagged", version=3)
    with pytest.raises(FileExistsError, match="tagged/3"):
        export_saved_model(TagServing("-b"), base, "tagged", version=3)

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(saved_model, "write_warmup_requests", full_disk)
    with pytest.raises(OSError, match="No space left"):
        export_saved_model(TagServing("-c"), base, "tagged")
    assert os.listdir(tmp_path / "tagged") == ["3"]

"""The one export helper: `<base>/<name>/<version>/` written atomically, with a model card.

TF Serving watches `<base>/<name>/` and serves the highest integer version. An export is
written to a staging folder of its own (`.tmp-<random>`, a name TF Serving skips), every
file and folder in it fsynced, then renamed to its version: the server, or a power cut,
never sees a half-written version, and two exports of one name at once (two runs, or a
run and `--task=export`) each get a version of their own.
"""

import errno
import os
import shutil
import uuid

import tensorflow as tf
import tensorflow_text
from absl import logging

from bertgpt_tf.atomic_file import fsync, write_json
from bertgpt_tf.export.serving_module import ServingModule
from bertgpt_tf.export.warmup import write_warmup_requests
from bertgpt_tf.training import cluster


def next_version(model_base_path: str) -> int:
    """1 + the highest integer version folder under `model_base_path` (1 if none)."""
    if not os.path.isdir(model_base_path):
        return 1
    versions = [int(d) for d in os.listdir(model_base_path) if d.isdigit()]
    return max(versions, default=0) + 1


def export_saved_model(
    module: ServingModule,
    export_base: str,
    name: str,
    version: int | None = None,
    model_card: dict | None = None,
) -> str:
    """Saves `module` with its signatures and TF Serving warmup requests; logs and returns
    the version directory: `version`, or the next free one when None (taken at the rename,
    so a concurrent export that renamed first pushes this one to the number after).
    On a cluster only the chief exports; another worker returns ""."""
    if not cluster.is_chief():
        logging.info("export of %s left to the chief", name)
        return ""
    model_base_path = os.path.join(export_base, name)
    if version and os.path.exists(os.path.join(model_base_path, str(version))):
        raise FileExistsError(f"Export version already exists: {model_base_path}/{version}")
    os.makedirs(model_base_path, exist_ok=True)
    staging = os.path.join(model_base_path, f".tmp-{uuid.uuid4().hex[:12]}")
    os.mkdir(staging)  # this export's alone; the umask's mode (mkdtemp's 0700 would
    # hide the version from a server running as another user)
    try:
        signatures = module.signatures()
        tf.saved_model.save(module, staging, signatures=signatures)
        write_warmup_requests(staging, name, module.warmup_requests())
        card = {
            "name": name,
            "signatures": sorted(signatures),
            "tensorflow_version": tf.__version__,
            "tensorflow_text_version": tensorflow_text.__version__,
            **(model_card or {}),
        }
        path = _publish(staging, model_base_path, version, card)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logging.info("exported %s", path)
    return path


def _publish(staging: str, model_base_path: str, version: int | None, card: dict) -> str:
    """Writes the model card, fsyncs `staging` and renames it to its version folder."""
    while True:
        number = version or next_version(model_base_path)
        write_json(os.path.join(staging, "model_card.json"), {**card, "version": number},
                   indent=2, sort_keys=True, default=str)  # fmt: skip
        _fsync_tree(staging)
        final = os.path.join(model_base_path, str(number))
        try:
            os.rename(staging, final)  # refuses a non-empty folder: never merges two
        except OSError as e:
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            if version:
                raise FileExistsError(f"Export version already exists: {final}") from None
            continue  # another export took `number` since we looked: take the next
        fsync(model_base_path)
        return final


def _fsync_tree(root: str) -> None:
    """Flushes every file and folder under `root` (and `root`) to disk."""
    for folder, _, files in os.walk(root, topdown=False):
        for path in [*(os.path.join(folder, f) for f in files), folder]:
            fsync(path)

"""The one export helper: `<base>/<name>/<version>/` written atomically, with a model card.

TF Serving watches `<base>/<name>/` and serves the highest integer version; writing to
a temporary folder and renaming means it never sees a half-written version.
"""

import json
import os
import shutil

import tensorflow as tf
import tensorflow_text

from bertgpt_tf.export.serving_module import ServingModule
from bertgpt_tf.export.warmup import write_warmup_requests


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
    """Saves `module` with its signatures and TF Serving warmup requests; returns the
    version directory."""
    model_base_path = os.path.join(export_base, name)
    version = version or next_version(model_base_path)
    final = os.path.join(model_base_path, str(version))
    if os.path.exists(final):
        raise FileExistsError(f"Export version already exists: {final}")
    staging = os.path.join(model_base_path, f".tmp-{version}")
    shutil.rmtree(staging, ignore_errors=True)
    signatures = module.signatures()
    tf.saved_model.save(module, staging, signatures=signatures)
    write_warmup_requests(staging, name, module.warmup_requests())
    card = {
        "name": name,
        "version": version,
        "signatures": sorted(signatures),
        "tensorflow_version": tf.__version__,
        "tensorflow_text_version": tensorflow_text.__version__,
        **(model_card or {}),
    }
    with open(os.path.join(staging, "model_card.json"), "w") as f:
        json.dump(card, f, indent=2, sort_keys=True, default=str)
    os.replace(staging, final)
    return final

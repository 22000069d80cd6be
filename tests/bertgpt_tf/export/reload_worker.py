"""Run in a fresh process: load a SavedModel with only tensorflow + tensorflow_text and
call its signatures.

    python reload_worker.py <saved_model_dir> <requests.json> <outputs.npz>

requests.json: {signature: {input_name: [values...]}}. Writes "<signature>/<output>"
arrays. `import tensorflow` itself pulls in the `keras` package (TF's tf.keras hook), so
the check is that loading and calling imports nothing more: no new keras, keras_hub or
bertgpt_tf module, and those packages cannot even be found (blocked below).
"""

import json
import sys

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the TF-Text ops)

FORBIDDEN = ("keras", "keras_hub", "bertgpt_tf", "tf_keras")


class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN:
            raise ModuleNotFoundError(f"serving process must not import {name}")


def _forbidden_modules() -> set[str]:
    return {m for m in sys.modules if m.split(".")[0] in FORBIDDEN}


def main(saved_model_dir: str, requests_path: str, outputs_path: str) -> None:
    before = _forbidden_modules()
    sys.meta_path.insert(0, _Blocker())
    loaded = tf.saved_model.load(saved_model_dir)
    with open(requests_path) as f:
        requests = json.load(f)
    outputs = {}
    for name, inputs in requests.items():
        signature = loaded.signatures[name]
        specs = signature.structured_input_signature[1]
        feed = {k: tf.constant(v, dtype=specs[k].dtype) for k, v in inputs.items()}
        for key, value in signature(**feed).items():
            outputs[f"{name}/{key}"] = value.numpy()
    leaked = sorted(_forbidden_modules() - before)
    assert not leaked, f"serving process imported {leaked}"
    np.savez(outputs_path, **outputs)


if __name__ == "__main__":
    main(*sys.argv[1:4])

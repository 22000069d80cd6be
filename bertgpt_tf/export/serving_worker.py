"""The serving side of `bertgpt_tf.export.check`, run as a script in a fresh process
that imports only tensorflow and tensorflow_text — as TF Serving has only the TF and
TF-Text kernels it links. It is a standalone file (no bertgpt_tf import) so that it also
runs under other TensorFlow releases, e.g. the TF 2.20 environment tools/serving_env.py builds.

    python serving_worker.py call <saved_model_dir> <bodies.json> <report.json>
    python serving_worker.py text-ops <report.json>

`call`: lists every op of the graph and its function library and which are not
registered here; then decodes each REST body (`inputs` columnar or `instances` row
format) as TF Serving does, calls the signature and encodes the response as TF
Serving's JSON would, recording errors instead of raising.
`text-ops`: the ops TF-Text registers in this environment.

`import tensorflow` itself imports the `keras` package (TF's tf.keras hook); the check is
that loading and calling import nothing more: keras_hub, bertgpt_tf and new keras
modules cannot even be found (blocked below).
"""

import base64
import json
import sys
import time

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import op_def_pb2
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow.python.client import pywrap_tf_session

FORBIDDEN = ("keras", "keras_hub", "bertgpt_tf", "tf_keras")
# Registered in core TF but run Python: TF Serving has no interpreter to call.
PYTHON_OPS = ("PyFunc", "PyFuncStateless", "EagerPyFunc")
# TF Serving's REST API encodes these (tensorflow_serving/util/json_tensor.cc); not
# half/bfloat16, complex, resource or variant.
JSON_DTYPES = ("float32", "float64", "int8", "int16", "int32", "int64", "uint8", "bool")


def registered_ops() -> set:
    buffer = pywrap_tf_session.TF_GetAllOpList()
    try:
        ops = op_def_pb2.OpList.FromString(pywrap_tf_session.TF_GetBuffer(buffer))
    finally:
        pywrap_tf_session.TF_DeleteBuffer(buffer)
    return {op.name for op in ops.op}


CORE_OPS = registered_ops()
import tensorflow_text  # noqa: E402,F401  (registers the TF-Text ops)

TEXT_OPS = registered_ops() - CORE_OPS


class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN:
            raise ModuleNotFoundError(f"serving process must not import {name}")


def _forbidden_modules() -> set:
    return {m for m in sys.modules if m.split(".")[0] in FORBIDDEN}


def graph_ops(saved_model_dir: str) -> list:
    """Op types of every node in the graph and in every library function (calls to
    library functions excluded: they are functions, not ops)."""
    saved_model = saved_model_pb2.SavedModel()
    with open(f"{saved_model_dir}/saved_model.pb", "rb") as f:
        saved_model.ParseFromString(f.read())
    ops = set()
    for meta_graph in saved_model.meta_graphs:
        library = meta_graph.graph_def.library
        functions = {f.signature.name for f in library.function}
        nodes = list(meta_graph.graph_def.node)
        for function in library.function:
            nodes.extend(function.node_def)
        ops |= {node.op for node in nodes if node.op not in functions}
    return sorted(ops)


def _decode_json(value):
    """JSON value -> numpy-ready nested lists: strings become UTF-8 bytes, {"b64": s}
    becomes the decoded bytes (TF Serving's rule for binary strings)."""
    if isinstance(value, list):
        return [_decode_json(v) for v in value]
    if isinstance(value, dict):
        if set(value) != {"b64"}:
            raise ValueError(f"unexpected object {sorted(value)} in a tensor value")
        return base64.b64decode(value["b64"])
    if isinstance(value, str):
        return value.encode("utf-8")
    return value


def _array(value) -> np.ndarray:
    decoded = _decode_json(value)
    array = np.array(decoded)
    # numpy's fixed-width bytes drop trailing NULs: keep strings as Python bytes objects.
    return np.array(decoded, dtype=object) if array.dtype.kind == "S" else array


def decode_body(body: dict, input_names: list) -> dict:
    """A REST predict body -> {input name: numpy array}, columnar or row format."""
    if "inputs" in body:
        inputs = body["inputs"]
        if not isinstance(inputs, dict) or set(inputs) - set(input_names):
            if len(input_names) != 1:
                raise ValueError("a bare `inputs` value needs a single-input signature")
            inputs = {input_names[0]: inputs}
        return {k: _array(v) for k, v in inputs.items()}
    rows = body["instances"]
    if all(isinstance(r, dict) and set(r) - {"b64"} for r in rows):
        keys = set().union(*rows)
        return {k: _array([r[k] for r in rows]) for k in keys}
    if len(input_names) != 1:
        raise ValueError("instances of bare values need a single-input signature")
    return {input_names[0]: _array(rows)}


def _encode_json(name: str, value: np.ndarray):
    """One output tensor -> JSON-ready lists, with TF Serving's rules."""
    if value.dtype.kind in "OSU":

        def encode(item):
            if isinstance(item, list):
                return [encode(i) for i in item]
            if name.endswith("_bytes"):
                return {"b64": base64.b64encode(item).decode("ascii")}
            return item.decode("utf-8")  # UnicodeDecodeError: not valid JSON text

        return encode(value.tolist())
    if value.dtype.name not in JSON_DTYPES:
        raise TypeError(
            f"output {name!r} is {value.dtype.name}: TF Serving's JSON cannot encode it"
        )
    return value.tolist()


def encode_response(outputs: dict, row_format: bool) -> dict:
    """Output tensors -> the JSON response object TF Serving would send."""
    encoded = {k: _encode_json(k, v) for k, v in outputs.items()}
    if not row_format:
        return {"outputs": encoded if len(encoded) > 1 else next(iter(encoded.values()))}
    sizes = {k: (v.shape[0] if v.ndim else None) for k, v in outputs.items()}
    if len(set(sizes.values())) != 1 or None in sizes.values():
        raise ValueError(f"row format needs every output to share the batch size: {sizes}")
    size = next(iter(sizes.values()))
    if len(encoded) == 1:
        return {"predictions": next(iter(encoded.values()))}
    return {"predictions": [{k: v[i] for k, v in encoded.items()} for i in range(size)]}


def call(saved_model_dir: str, bodies_path: str, report_path: str) -> None:
    before = _forbidden_modules()
    sys.meta_path.insert(0, _Blocker())
    ops = graph_ops(saved_model_dir)
    start = time.perf_counter()
    loaded = tf.saved_model.load(saved_model_dir)
    report = {
        "tensorflow_version": tf.__version__,
        "tensorflow_text_version": tensorflow_text.__version__,
        "ops": ops,
        "text_ops": sorted(set(ops) & TEXT_OPS),
        "unregistered_ops": sorted(set(ops) - CORE_OPS - TEXT_OPS),
        "python_ops": sorted(set(ops) & set(PYTHON_OPS)),
        "load_seconds": time.perf_counter() - start,
        "signatures": sorted(loaded.signatures.keys()),
        "calls": [],
    }
    with open(bodies_path) as f:
        bodies = json.load(f)
    for body in bodies:
        name = body.get("signature_name", "serving_default")
        result = {"signature_name": name, "format": "inputs" if "inputs" in body else "instances"}
        try:
            signature = loaded.signatures[name]
            specs = signature.structured_input_signature[1]
            inputs = decode_body(body, sorted(specs))
            if set(inputs) != set(specs):
                raise ValueError(f"inputs {sorted(inputs)} != signature inputs {sorted(specs)}")
            start = time.perf_counter()
            feed = {k: tf.constant(v, dtype=specs[k].dtype) for k, v in inputs.items()}
            outputs = {k: v.numpy() for k, v in signature(**feed).items()}
            result["seconds"] = time.perf_counter() - start
            response = encode_response(outputs, result["format"] == "instances")
            text = json.dumps(response)
            result["response_bytes"] = len(text)
            result["response_head"] = text[:600]
            result["outputs"] = {k: _encode_json(k, v) for k, v in outputs.items()}
            result["ok"] = True
        except Exception as e:  # recorded: the check reports every failing call
            result.update(ok=False, error=f"{type(e).__name__}: {e}"[:2000])
        report["calls"].append(result)
    report["leaked_imports"] = sorted(_forbidden_modules() - before)
    with open(report_path, "w") as f:
        json.dump(report, f)


def text_ops(report_path: str) -> None:
    with open(report_path, "w") as f:
        json.dump(
            {"tensorflow_text_version": tensorflow_text.__version__, "ops": sorted(TEXT_OPS)}, f
        )


if __name__ == "__main__":
    {"call": call, "text-ops": text_ops}[sys.argv[1]](*sys.argv[2:])

"""ServingModule: the one signature builder every task's serving module inherits.

A task's module lists its `tf.function` endpoints (the first is `serving_default`) and
gives a few representative requests per endpoint; this base turns them into SavedModel
signatures and TF Serving warmup requests, and refuses outputs that TF Serving's REST
JSON cannot encode (bfloat16/float16 — a mixed-precision model must cast).
"""

import inspect

import numpy as np
import tensorflow as tf

# What TF Serving's REST API can write as JSON (tensorflow_serving/util/json_tensor.cc).
SERVABLE_DTYPES = frozenset(
    [tf.float32, tf.float64, tf.int8, tf.int16, tf.int32, tf.int64, tf.uint8, tf.bool, tf.string]
)


class ServingModule(tf.Module):
    """Base of the serving modules: subclasses set `endpoints` (names of `tf.function`
    methods with input signatures, the first one also served as `serving_default`) and
    implement `example_requests()`."""

    endpoints: tuple[str, ...] = ()

    def signatures(self) -> dict:
        """{signature name: concrete function}, `serving_default` first."""
        functions = {name: getattr(self, name).get_concrete_function() for name in self.endpoints}
        for name, function in functions.items():
            for key, spec in function.structured_outputs.items():
                if spec.dtype not in SERVABLE_DTYPES:
                    raise TypeError(
                        f"signature {name!r} output {key!r} is {spec.dtype.name}: TF Serving's "
                        "JSON cannot encode it; cast it to float32/int32/string"
                    )
        return {"serving_default": functions[self.endpoints[0]], **functions}

    def example_requests(self) -> list[tuple[str, dict[str, np.ndarray]]]:
        """A few representative (endpoint name, {input name: array}) requests per
        endpoint."""
        raise NotImplementedError

    def warmup_requests(self) -> list[tuple[str, dict[str, np.ndarray]]]:
        """`example_requests()` plus the first one again as `serving_default`: written
        to `assets.extra/tf_serving_warmup_requests` at export."""
        examples = self.example_requests()
        default = next(inputs for name, inputs in examples if name == self.endpoints[0])
        return [("serving_default", default), *examples]

    def call_signature(self, name: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Runs endpoint `name` (or `serving_default`) in memory: what a reload must match."""
        endpoint = getattr(self, self.endpoints[0] if name == "serving_default" else name)
        names = [n for n in inspect.signature(endpoint.python_function).parameters if n != "self"]
        specs = endpoint.input_signature
        feed = {n: tf.constant(inputs[n], s.dtype) for n, s in zip(names, specs, strict=True)}
        return {k: v.numpy() for k, v in endpoint(**feed).items()}


def same_rows(text: tf.Tensor, text_b: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """(text, text_b) once an in-graph check has found as many rows in each; else the
    request fails with an InvalidArgumentError naming both sizes (in the SavedModel too:
    the check is an op, not Python)."""
    rows, rows_b = tf.shape(text)[0], tf.shape(text_b)[0]
    message = tf.strings.format(
        "text has {} rows and text_b has {}: a pair request needs as many of each",
        (rows, rows_b),
    )
    check = tf.debugging.Assert(tf.equal(rows, rows_b), [message])
    with tf.control_dependencies([check]):
        return tf.identity(text), tf.identity(text_b)

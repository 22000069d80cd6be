"""TF Serving warmup requests: `assets.extra/tf_serving_warmup_requests`, a TFRecord of
`PredictionLog` protos that the server replays before it marks a version ready, so the
first real request does not pay for graph initialisation."""

import os

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

WARMUP_FILE = os.path.join("assets.extra", "tf_serving_warmup_requests")


def write_warmup_requests(
    saved_model_dir: str, model_name: str, requests: list[tuple[str, dict[str, np.ndarray]]]
) -> str:
    """Writes `requests` ((signature name, {input: array}) pairs) as PredictionLogs."""
    path = os.path.join(saved_model_dir, WARMUP_FILE)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path) as writer:
        for signature_name, inputs in requests:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
            )
            for key, value in inputs.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)
            )
            writer.write(log.SerializeToString())
    return path


def read_warmup_requests(saved_model_dir: str) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The (signature name, {input: array}) pairs of a SavedModel's warmup file."""
    path = os.path.join(saved_model_dir, WARMUP_FILE)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no warmup requests: {path}")
    requests = []
    for record in tf.data.TFRecordDataset(path).as_numpy_iterator():
        log = prediction_log_pb2.PredictionLog.FromString(record)
        if log.WhichOneof("log_type") != "predict_log":
            raise ValueError(f"{path}: only PredictLog warmup records are supported")
        request = log.predict_log.request
        inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
        requests.append((request.model_spec.signature_name or "serving_default", inputs))
    return requests

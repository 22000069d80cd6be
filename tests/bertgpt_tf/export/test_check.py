"""The servability check fails deliberately broken exports, each for its reason."""

import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text as tf_text

from bertgpt_tf.export.check import check, rest_bodies
from bertgpt_tf.export.serving_module import ServingModule
from bertgpt_tf.export.serving_worker import decode_body, encode_response
from bertgpt_tf.export.warmup import read_warmup_requests, write_warmup_requests

TEXT = tf.TensorSpec([None], tf.string, name="text")
REQUEST = [("serving_default", {"text": np.array(["a b c", "d e"], object)})]


class Lengths(tf.Module):
    """A tiny raw-text model; `kind` breaks it in one way."""

    def __init__(self, kind: str):
        super().__init__()
        self.kind = kind
        self.scale = tf.Variable(2.0)

    @tf.function(input_signature=[TEXT])
    def serve(self, text):
        words = tf.strings.split(text)
        if self.kind == "round_robin_trim":  # TF-Text op that TF-Text 2.12.1 lacks
            words = tf_text.RoundRobinTrimmer(max_seq_length=2).trim([words])[0]
        length = tf.cast(words.row_lengths(), tf.float32) * self.scale
        if self.kind == "python_op":
            length = tf.py_function(lambda x: x + 1.0, [length], tf.float32)
        if self.kind == "bfloat16":
            length = tf.cast(length, tf.bfloat16)
        return {"length": length, "first_word": words[:, :1].to_tensor("")[:, 0]}


def _export(tmp_path, kind: str, warmup: bool = True) -> str:
    path = str(tmp_path / kind)
    module = Lengths(kind)
    tf.saved_model.save(module, path, signatures={"serving_default": module.serve})
    if warmup:
        write_warmup_requests(path, kind, REQUEST)
    return path


def test_a_sound_export_passes(tmp_path):
    result = check(_export(tmp_path, "sound"), releases=("2.12-2.19",))
    assert result.ok, result.problems
    calls = result.report["this_environment"]["calls"]
    assert [c["format"] for c in calls] == ["inputs", "instances"]
    assert calls[0]["outputs"] == {"length": [6.0, 4.0], "first_word": ["a", "d"]}
    assert result.report["releases"]["2.12-2.19"]["text_ops_lacking"] == []


@pytest.mark.parametrize(
    "kind, reason",
    [
        ("bfloat16", "bfloat16: TF Serving's JSON cannot encode it"),
        ("python_op", "ops that need Python (TF Serving has none): ['EagerPyFunc']"),
        (
            "round_robin_trim",
            "TF Serving 2.12-2.19 (TF-Text 2.12.1) lacks ['TFText>RoundRobinTrim']",
        ),
    ],
)
def test_a_broken_export_fails_with_its_reason(tmp_path, kind, reason):
    result = check(_export(tmp_path, kind), releases=("2.12-2.19",))
    assert not result.ok
    assert any(reason in p for p in result.problems), result.problems


def test_missing_warmup_and_missing_model_fail(tmp_path):
    result = check(_export(tmp_path, "sound", warmup=False), releases=())
    assert not result.ok and "warmup" in result.problems[0]
    assert "not a SavedModel" in check(str(tmp_path / "nothing"), releases=()).problems[0]


def test_serving_module_refuses_a_bfloat16_signature():
    class Broken(ServingModule):
        endpoints = ("serve",)

        @tf.function(input_signature=[TEXT])
        def serve(self, text):
            return {"x": tf.cast(tf.strings.length(text), tf.bfloat16)}

    with pytest.raises(TypeError, match="bfloat16"):
        Broken().signatures()


def test_warmup_file_round_trips(tmp_path):
    requests = [
        ("generate", {"prompt": np.array([b"x\x00", "é".encode()], object), "k": np.int32(3)}),
        ("score", {"ids": np.array([[1, 2], [3, 4]], np.int32)}),
    ]
    write_warmup_requests(str(tmp_path), "m", requests)
    (name_a, a), (name_b, b) = read_warmup_requests(str(tmp_path))
    assert (name_a, name_b) == ("generate", "score")
    assert list(a["prompt"]) == [b"x\x00", "é".encode()] and a["k"] == 3
    np.testing.assert_array_equal(b["ids"], [[1, 2], [3, 4]])
    assert os.path.exists(tmp_path / "assets.extra" / "tf_serving_warmup_requests")


def test_rest_bodies_decode_back_to_the_request():
    """Columnar and row bodies decode (as TF Serving does) to the same tensors; binary
    strings travel as {"b64": ...}; scalar inputs allow only the columnar form."""
    inputs = {"text": np.array([b"caf\xc3\xa9", b"\xff\x00"], object), "n": np.array([1, 2])}
    (i, columnar), (j, row) = rest_bodies([("sig", inputs)])
    assert i == j == 0 and row["instances"][1] == {"text": {"b64": "/wA="}, "n": 2}
    for body in (columnar, row):
        decoded = decode_body(body, ["n", "text"])
        assert list(decoded["text"]) == list(inputs["text"])
        np.testing.assert_array_equal(decoded["n"], [1, 2])
    scalar = rest_bodies([("sig", {"text": inputs["text"], "k": np.int32(1)})])
    assert [("inputs" in b) for _, b in scalar] == [True]


def test_responses_follow_tf_serving_json_rules():
    outputs = {"score": np.array([0.5, 1.0], np.float32), "label": np.array([b"pos", b"neg"])}
    assert encode_response(outputs, row_format=True) == {
        "predictions": [{"score": 0.5, "label": "pos"}, {"score": 1.0, "label": "neg"}]
    }
    assert encode_response({"raw_bytes": np.array([b"\xff"])}, False) == {
        "outputs": [{"b64": "/w=="}]
    }
    with pytest.raises(UnicodeDecodeError):
        encode_response({"text": np.array([b"\xff"])}, False)  # not valid JSON text
    with pytest.raises(ValueError, match="batch size"):
        encode_response({"a": np.zeros([2]), "b": np.zeros([3])}, row_format=True)

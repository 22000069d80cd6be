"""The exported MLM SavedModel, reloaded in a fresh tensorflow+tensorflow_text process,
answers raw-text requests exactly as the in-memory model does."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from bertgpt_tf.export.mlm_serving import MaskedLMServing
from bertgpt_tf.export.saved_model import export_saved_model, next_version
from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer
from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer

WORKER = os.path.join(os.path.dirname(__file__), "reload_worker.py")
TEXTS = [
    "the quick brown [MASK] jumps over the lazy dog.",
    "我爱[MASK]京 and [MASK] [MASK] café!",
    "",
]
TEXTS_B = ["a second segment here", "", "only b"]
REQUESTS = {
    "serving_default": {"text": TEXTS},
    "fill_mask": {"text": TEXTS},
    "encode": {"text": TEXTS},
    "encode_pair": {"text": TEXTS, "text_b": TEXTS_B},
    "encode_tokens": {
        "token_ids": [[2, 10, 11, 3], [2, 12, 3, 0]],
        "segment_ids": [[0, 0, 0, 0], [0, 0, 0, 0]],
        "padding_mask": [[1, 1, 1, 1], [1, 1, 1, 0]],
    },
}


@pytest.fixture(scope="module")
def exported(tiny_vocabulary, tmp_path_factory):
    tokenizer = WordPieceTokenizer(tiny_vocabulary, special_tokens_in_strings=True)
    encoder = BertEncoder(
        vocabulary_size=tokenizer.vocabulary_size, num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=64, max_sequence_length=64,
    )  # fmt: skip
    module = MaskedLMServing(BertPretrainer(encoder, "nsp"), tokenizer, sequence_length=24)
    base = str(tmp_path_factory.mktemp("saved_models"))
    path = export_saved_model(module, base, "mlm-test", model_card={"task": "mlm"})
    return module, path


def test_layout_assets_and_card(exported):
    _, path = exported
    assert path.endswith(os.path.join("mlm-test", "1"))
    assert next_version(os.path.dirname(path)) == 2
    assert os.path.exists(os.path.join(path, "saved_model.pb"))
    assert any(f.endswith(".txt") for f in os.listdir(os.path.join(path, "assets")))
    with open(os.path.join(path, "model_card.json")) as f:
        card = json.load(f)
    assert card["task"] == "mlm" and "fill_mask" in card["signatures"]


def test_fill_mask_finds_every_mask(exported):
    module, _ = exported
    out = module.fill_mask(tf.constant(TEXTS))
    positions = out["mask_positions"].numpy()
    assert positions.shape == (3, 3)
    assert [(row >= 0).sum() for row in positions] == [1, 3, 0]
    assert out["top_tokens"].shape == (3, 3, 5) and out["top_scores"].dtype == tf.float32
    scores = out["top_scores"].numpy()
    assert np.all(np.diff(scores, axis=-1) <= 0)  # sorted, best first
    assert out["top_tokens"].numpy()[2, 0, 0] == b""  # padding for a row with no mask


def test_fresh_process_reload_matches_in_memory(exported, tmp_path):
    module, path = exported
    requests = tmp_path / "requests.json"
    requests.write_text(json.dumps(REQUESTS))
    outputs = tmp_path / "outputs.npz"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(
        [sys.executable, WORKER, path, str(requests), str(outputs)],
        check=True,
        env=env,
        cwd=tmp_path,
    )
    reloaded = np.load(outputs, allow_pickle=True)  # string outputs are object arrays
    checked = 0
    for name, inputs in REQUESTS.items():
        endpoint = getattr(module, "fill_mask" if name == "serving_default" else name)
        feed = {
            k: tf.constant(v, tf.string if "text" in k else tf.int32) for k, v in inputs.items()
        }
        for key, value in endpoint(**feed).items():
            expected, got = value.numpy(), reloaded[f"{name}/{key}"]
            assert expected.shape == got.shape, f"{name}/{key}"
            if expected.dtype.kind in "fi":
                assert np.max(np.abs(expected - got), initial=0.0) < 1e-5, f"{name}/{key}"
            else:
                assert (expected == got).all(), f"{name}/{key}"
            checked += 1
    assert checked >= 15

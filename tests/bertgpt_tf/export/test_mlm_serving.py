"""The exported MLM SavedModel, reloaded in a fresh tensorflow+tensorflow_text process,
answers raw-text requests exactly as the in-memory model does."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from bertgpt_tf.export.mlm_serving import MaskedLMServing
from bertgpt_tf.export.saved_model import export_saved_model, next_version
from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer
from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer

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


def test_export_is_servable_and_matches_in_memory(exported, assert_servable):
    """Warmup requests and these edge cases (CJK, several masks, empty text), as REST
    bodies, in fresh tensorflow + tensorflow_text processes (and TF 2.20)."""
    module, path = exported
    extra = [
        (name, {k: np.array(v) for k, v in inputs.items()}) for name, inputs in REQUESTS.items()
    ]
    # outputs per request: fill_mask 4, encode(_pair) 3, encode_tokens 2, fill_mask_tokens 1;
    # every request goes as a columnar and a row body
    warmup = 4 + 4 + 4 + 3 + 3 + 2 + 1  # serving_default, fill_mask x2, encode, ...
    assert assert_servable(module, path, extra) == 2 * (warmup + 4 + 4 + 3 + 3 + 2)

"""BertPretrainer: tied and untied MLM heads, save/load round trips."""

import keras
import numpy as np
import pytest

from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer

SIZES = dict(vocabulary_size=101, num_layers=1, num_heads=2, hidden_dim=16, intermediate_dim=32)


def _inputs(seed=0):
    rng = np.random.default_rng(seed)
    return {
        "token_ids": rng.integers(5, 101, (2, 9)).astype("int32"),
        "segment_ids": np.zeros((2, 9), "int32"),
        "padding_mask": np.ones((2, 9), "int32"),
        "mask_positions": np.array([[1, 3], [2, 0]], "int32"),
    }


@pytest.mark.parametrize("tie_word_embeddings", [True, False])
def test_mlm_head_projection_and_round_trip(tmp_path, tie_word_embeddings):
    model = BertPretrainer(BertEncoder(**SIZES), "nsp", tie_word_embeddings)
    tied = BertPretrainer(BertEncoder(**SIZES), "nsp")
    extra = model.count_params() - tied.count_params()
    # Untied: a (hidden, vocabulary) output matrix of its own; the bias exists either way.
    assert extra == (0 if tie_word_embeddings else 16 * 101)
    outputs = model(_inputs())
    assert outputs["mlm"].shape == (2, 2, 101) and outputs["nsp"].shape == (2, 2)
    path = str(tmp_path / "pretrainer.keras")
    model.save(path)
    restored = keras.saving.load_model(path, compile=False)
    assert restored.tie_word_embeddings is tie_word_embeddings
    np.testing.assert_allclose(
        np.asarray(outputs["mlm"]), np.asarray(restored(_inputs())["mlm"]), atol=1e-6
    )


def test_tied_head_reads_the_token_embedding():
    model = BertPretrainer(BertEncoder(**SIZES), "none")
    before = np.asarray(model(_inputs())["mlm"])
    embedding = model.backbone.token_embedding.embeddings
    embedding.assign(embedding.numpy() * 2.0)
    assert np.abs(np.asarray(model(_inputs())["mlm"]) - before).max() > 1e-3
    untied = BertPretrainer(BertEncoder(**SIZES), "none", tie_word_embeddings=False)
    kernels = [w for w in untied.mlm_head.weights if w.path.endswith("output_kernel")]
    assert [tuple(k.shape) for k in kernels] == [(16, 101)]
    assert not any(w is kernels[0] for w in untied.backbone.weights)

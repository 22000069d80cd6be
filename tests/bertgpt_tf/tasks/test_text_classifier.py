"""TextClassifier heads and the parameter-efficient methods: what trains, and LoRA
merging that leaves the function unchanged."""

import keras
import numpy as np
import pytest

from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.tasks.text_classifier import TextClassifier
from bertgpt_tf.training.peft import count_parameters, enable_lora, freeze_layers, merge_lora

SIZES = dict(vocabulary_size=50, num_layers=3, num_heads=2, hidden_dim=16, intermediate_dim=32)
INPUTS = {
    "token_ids": np.array([[2, 7, 9, 3, 0], [2, 11, 3, 12, 3]], np.int32),
    "segment_ids": np.array([[0, 0, 0, 0, 0], [0, 0, 0, 1, 1]], np.int32),
    "padding_mask": np.array([[1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], np.int32),
}


def _model(num_classes=3) -> TextClassifier:
    keras.utils.set_random_seed(0)
    return TextClassifier(BertEncoder(**SIZES), num_classes)


def test_output_shapes_and_config_round_trip():
    model = _model()
    assert model(INPUTS).shape == (2, 3)
    regressor = TextClassifier(BertEncoder(**SIZES), 1)
    assert regressor(INPUTS).shape == (2, 1)
    clone = TextClassifier.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone(INPUTS), model(INPUTS), atol=1e-6)


def test_freeze_layers_trains_only_the_top_and_the_head():
    full = count_parameters(_model())["trainable"]
    model = _model()
    block = count_parameters(model.backbone.transformer_layers[0])["total"]
    pooler = count_parameters(model.backbone.pooled_dense)["total"]
    head = 16 * 3 + 3
    freeze_layers(model.backbone, 1)
    assert count_parameters(model)["trainable"] == block + pooler + head
    probe = _model()
    freeze_layers(probe.backbone, 0)
    assert count_parameters(probe)["trainable"] == head < full
    with pytest.raises(ValueError, match="the backbone has 3 layers"):
        freeze_layers(_model().backbone, 4)


def test_lora_trains_rank_r_pairs_and_merges_to_the_same_function():
    model = _model()
    enable_lora(model.backbone, rank=2)
    # per block, A + B of Keras' LoRA: q, k, v as EinsumDense (16 -> 2 heads x 8): A (16, 2
    # heads, rank 2) and B (2, 8); attention output A (2, 8, 2), B (2, 16); FFN 16->32->16
    per_block = (
        3 * (16 * 2 * 2 + 2 * 8) + (2 * 8 * 2 + 2 * 16) + (16 * 2 + 2 * 32) + (32 * 2 + 2 * 16)
    )
    pooler_and_head = (16 * 16 + 16) + (16 * 3 + 3)
    assert count_parameters(model)["trainable"] == 3 * per_block + pooler_and_head
    for weight in model.trainable_weights:  # make the low-rank updates non-zero
        if "lora" in weight.path:
            weight.assign(np.random.default_rng(0).normal(0, 0.3, weight.shape))
    merged = merge_lora(model)
    assert not any("lora" in w.path for w in merged.weights)
    assert len(merged.weights) == len(_model().weights)
    np.testing.assert_allclose(merged(INPUTS), model(INPUTS), atol=1e-5)
    assert np.abs(merged(INPUTS) - _model()(INPUTS)).max() > 1e-3  # the update is kept


def test_mean_pooling_reads_the_real_tokens_vectors_and_round_trips(tmp_path):
    keras.utils.set_random_seed(0)
    model = TextClassifier(BertEncoder(**SIZES), 3, dropout=0.0, pooling="mean")
    sequence = model.backbone(INPUTS)["sequence_output"].numpy()
    mask = INPUTS["padding_mask"][:, :, None]
    mean = (sequence * mask).sum(1) / mask.sum(1)  # row 0: 4 real tokens, not 5
    kernel, bias = model.head.get_weights()
    np.testing.assert_allclose(model(INPUTS), mean @ kernel + bias, atol=1e-5)
    assert not model.backbone.pooled_dense.trainable  # the [CLS] pooler is unused
    path = str(tmp_path / "mean.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    assert restored.pooling == "mean"
    np.testing.assert_allclose(restored(INPUTS), model(INPUTS), atol=1e-6)
    with pytest.raises(ValueError, match="pooling must be cls|mean"):
        TextClassifier(BertEncoder(**SIZES), 3, pooling="max")
    with pytest.raises(ValueError, match="prompt tuning reads the"):
        TextClassifier(BertEncoder(**SIZES), 3, prefix_length=2, pooling="mean")

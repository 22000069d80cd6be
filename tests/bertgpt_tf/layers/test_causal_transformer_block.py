import keras
import numpy as np
import pytest

from bertgpt_tf.layers.causal_transformer_block import CausalTransformerBlock


def _x(batch=2, length=6, hidden=16, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, length, hidden)).astype("float32")


def _block(**kwargs):
    return CausalTransformerBlock(num_heads=2, intermediate_dim=32, **kwargs)


@pytest.mark.parametrize("use_rope", [False, True])
@pytest.mark.parametrize("ffn", ["gelu", "swiglu"])
def test_shape_and_config_round_trip(use_rope, ffn):
    block = _block(use_rope=use_rope, ffn=ffn)
    x = _x()
    assert block(x).shape == x.shape
    restored = CausalTransformerBlock.from_config(block.get_config())
    assert restored.get_config() == block.get_config()
    restored.build(x.shape)
    restored.set_weights(block.get_weights())
    np.testing.assert_allclose(np.asarray(block(x)), np.asarray(restored(x)), atol=1e-6)


def test_swiglu_adds_a_gate_and_changes_the_output():
    gelu, swiglu = _block(ffn="gelu"), _block(ffn="swiglu")
    x = _x()
    gelu.build(x.shape)
    swiglu.build(x.shape)
    assert len(swiglu.weights) == len(gelu.weights) + 2  # gate kernel + bias
    swiglu.set_weights(gelu.get_weights() + swiglu.get_weights()[len(gelu.weights) :])
    assert not np.allclose(np.asarray(gelu(x)), np.asarray(swiglu(x)), atol=1e-4)


def test_rope_rotates_by_relative_position():
    """RoPE changes attention (not at slot 0, which only sees itself), and only relative
    positions matter: shifting every position by 5 leaves the output unchanged."""
    plain, rope = _block(), _block(use_rope=True)
    x = _x()
    plain.build(x.shape)
    rope.build(x.shape)
    rope.set_weights(plain.get_weights())
    no_pos, with_pos = np.asarray(plain(x)), np.asarray(rope(x))
    np.testing.assert_allclose(no_pos[:, 0], with_pos[:, 0], atol=1e-5)
    assert not np.allclose(no_pos[:, 1:], with_pos[:, 1:], atol=1e-4)
    shifted = np.asarray(rope(x, positions=np.arange(6)[None] + 5))
    np.testing.assert_allclose(with_pos, shifted, atol=1e-4)


def test_padding_keys_are_ignored():
    block = _block()
    x = _x()
    mask = np.ones((2, 6), "int32")
    mask[:, :2] = 0  # left padding
    y = x.copy()
    y[:, :2] = 7.0  # change only the padding
    a = np.asarray(block(x, padding_mask=mask))
    b = np.asarray(block(y, padding_mask=mask))
    np.testing.assert_allclose(a[:, 2:], b[:, 2:], atol=1e-5)


def test_keras_saving_inside_a_model(tmp_path):
    inputs = keras.Input((None, 16))
    model = keras.Model(inputs, _block(use_rope=True, ffn="swiglu")(inputs))
    path = str(tmp_path / "block.keras")
    model.save(path)
    restored = keras.saving.load_model(path)
    x = _x()
    np.testing.assert_allclose(np.asarray(model(x)), np.asarray(restored(x)), atol=1e-6)

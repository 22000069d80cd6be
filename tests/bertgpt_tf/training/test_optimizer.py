import keras
import numpy as np
import pytest

from bertgpt_tf.training.optimizer import WarmupDecay, make_optimizer


@pytest.mark.parametrize("decay", ["linear", "cosine"])
def test_schedule_warms_up_then_decays_to_zero(decay):
    schedule = WarmupDecay(1e-3, warmup_steps=10, total_steps=110, decay=decay)
    values = [float(schedule(s)) for s in (0, 5, 10, 60, 110, 200)]
    np.testing.assert_allclose(values[:3], [0.0, 5e-4, 1e-3], rtol=1e-6)
    np.testing.assert_allclose(values[3], 5e-4, rtol=1e-5)  # midpoint: both decays give half
    np.testing.assert_allclose(values[4:], [0.0, 0.0], atol=1e-9)


def test_cosine_differs_from_linear_off_midpoint():
    linear = WarmupDecay(1.0, 0, 100, "linear")
    cosine = WarmupDecay(1.0, 0, 100, "cosine")
    assert float(cosine(25)) == pytest.approx(0.8535534, rel=1e-5)
    assert float(linear(25)) == pytest.approx(0.75, rel=1e-6)


def test_weight_decay_skips_layer_norm_and_bias():
    # Explicit names: auto-names depend on what other tests built in this process.
    dense = keras.layers.Dense(3, name="dense")
    norm = keras.layers.LayerNormalization(name="layer_normalization")
    dense.build((None, 3))
    norm.build((None, 3))
    optimizer = make_optimizer(1e-3, 1, 10, weight_decay=0.1)
    decayed = {v.path: optimizer._use_weight_decay(v) for v in dense.weights + norm.weights}
    assert decayed == {
        "dense/kernel": True,
        "dense/bias": False,
        "layer_normalization/gamma": False,
        "layer_normalization/beta": False,
    }

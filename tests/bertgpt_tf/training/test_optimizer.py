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


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_a_time_budget_moves_the_end_of_the_decay_to_where_the_budget_stops(monkeypatch):
    """10 minutes at 2 steps/s from step 0 end at step 1,200, not at the step budget of
    100,000: the rate must reach zero there. The first window (tracing) is not timed."""
    from bertgpt_tf.training import callbacks

    clock = _Clock()
    monkeypatch.setattr(callbacks.time, "monotonic", clock)
    schedule = WarmupDecay(1e-3, warmup_steps=10, total_steps=100_000)
    model = keras.Sequential([keras.layers.Dense(1)])
    model.compile(make_optimizer(1e-3, 10, 100_000))
    budget = callbacks.DecayToBudget(schedule, steps=100_000, max_minutes=10, every=20)
    budget.set_model(model)
    budget.on_train_begin()
    clock.now = 30.0  # a slow first window: tracing
    for batch in range(20):
        budget.on_train_batch_end(batch)
    assert float(schedule.end_step) == 100_000  # not yet timed
    for batch in range(20, 200):
        clock.now += 0.5
        budget.on_train_batch_end(batch)
    # 90 s after the first window at 2 steps/s; 600 - 120 s left -> 200 + 960 steps
    assert float(schedule.end_step) == pytest.approx(1160, abs=1)
    assert float(schedule(1160)) == pytest.approx(0.0, abs=1e-9)
    assert float(schedule(585)) == pytest.approx(5e-4, rel=1e-2)  # halfway down
    # a step budget that ends first keeps its own end
    short = callbacks.DecayToBudget(schedule, steps=500, max_minutes=10, every=20)
    short.set_model(model)
    short.on_train_begin()
    for batch in range(60):
        clock.now += 0.5
        short.on_train_batch_end(batch)
    assert float(schedule.end_step) == 500

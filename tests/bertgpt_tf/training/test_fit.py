import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from bertgpt_tf.training.fit import fit, make_strategy


def test_a_budget_that_is_not_whole_epochs_is_not_rounded_up(tmp_path):
    keras.utils.set_random_seed(0)
    with make_strategy().scope():  # as every task builds
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(4).repeat()
    history, _ = fit(model, data, data, str(tmp_path), steps=7, steps_per_epoch=3,
                     batch_size=4, tokens_per_example=1, validation_steps=2)  # fmt: skip
    assert (
        int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 7
    )  # not 9 = 3 whole epochs
    assert len(history.history["loss"]) == len(history.history["val_loss"]) == 3


def test_one_device_trains_without_the_mirrored_wrapper_to_the_same_weights(tmp_path):
    """On one device `make_strategy` is TF's default strategy (the mirrored wrapper cost
    ~6 % of a step); `fit` under it ends on the weights MirroredStrategy over that one
    device gives, step for step."""
    assert not isinstance(make_strategy(), tf.distribute.MirroredStrategy)
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(4).repeat()
    weights = []
    for name, strategy in [("default", make_strategy()),
                           ("mirrored", tf.distribute.MirroredStrategy(["/cpu:0"]))]:  # fmt: skip
        keras.utils.set_random_seed(0)
        with strategy.scope():
            model = keras.Sequential(
                [keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)]
            )
            model.compile(optimizer=keras.optimizers.AdamW(1e-2), loss="mse")
        fit(model, data, None, str(tmp_path / name), steps=10, steps_per_epoch=5,
            batch_size=4, tokens_per_example=1)  # fmt: skip
        weights.append([w.numpy() for w in model.weights])
    for a, b in zip(*weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def _dense_model():
    with make_strategy().scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    return model


def test_non_finite_loss_stops_the_run_and_keeps_the_last_good_backup(tmp_path):
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    poisoned = x.copy()
    poisoned[24:28] = np.nan  # batch 6 of 4 examples: the 7th step's loss is NaN
    clean = tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(4).repeat()
    bad = tf.data.Dataset.from_tensor_slices((poisoned, x[:, :1])).batch(4).repeat()
    run = dict(run_dir=str(tmp_path), steps=12, steps_per_epoch=3, batch_size=4,
               tokens_per_example=1, checkpoint_every=3)  # fmt: skip
    model = _dense_model()
    with pytest.raises(FloatingPointError, match=r"loss is nan at step 7 \(epoch 3\)"):
        fit(model, bad, None, **run)
    with open(tmp_path / "backup" / "training_metadata.json") as f:
        assert json.load(f)["epoch"] == 2  # epoch 3 never backed up its NaN weights
    assert sorted(os.listdir(tmp_path / "checkpoints")) == [
        "step-00000003.weights.h5",
        "step-00000006.weights.h5",
    ]
    backup = _dense_model()
    backup.load_weights(str(tmp_path / "backup" / "epoch-000002.weights.h5"))
    assert all(np.isfinite(w).all() for w in backup.get_weights())
    # Resuming (here on repaired data) starts from step 6 and finishes the budget.
    model = _dense_model()
    history, _ = fit(model, clean, None, **run)
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 12
    assert len(history.history["loss"]) == 2  # epochs 3 and 4
    assert np.isfinite(history.history["loss"]).all()


def test_steps_per_execution_trains_the_same_weights_and_counts_every_step(tmp_path):
    """`--steps_per_execution=4`: one call of the compiled step runs 4 steps. The run
    ends on the weights one step per call gives, at the same step; the host-counted step
    (logs, checkpoints, budgets) follows every step, not every call: a checkpoint every 6
    steps is saved at the first call that reaches a multiple of 6 (steps 8 and 12)."""
    x = np.random.default_rng(0).normal(size=(96, 3)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(4).repeat()
    weights, monitors = [], []
    for k in (1, 4):
        keras.utils.set_random_seed(0)
        with make_strategy().scope():
            model = keras.Sequential(
                [keras.Input((3,)), keras.layers.Dense(4), keras.layers.Dense(1)]
            )
            model.compile(optimizer=keras.optimizers.AdamW(1e-2), loss="mse", steps_per_execution=k)
        run_dir = tmp_path / f"k{k}"
        history, monitor = fit(model, data, data, str(run_dir), steps=12, steps_per_epoch=8,
                               batch_size=4, tokens_per_example=1, validation_steps=4,
                               checkpoint_every=6, log_every=4)  # fmt: skip
        assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 12
        assert monitor.step == 12 and len(history.history["val_loss"]) == 2
        weights.append([w.numpy() for w in model.weights])
        monitors.append(history.history["loss"])
    assert sorted(os.listdir(tmp_path / "k4" / "checkpoints")) == [
        "step-00000008.weights.h5",
        "step-00000012.weights.h5",
    ]
    for a, b in zip(*weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(monitors[0], monitors[1], rtol=1e-5)

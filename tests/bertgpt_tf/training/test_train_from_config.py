"""`train_from_config`, the one way every task trains: the run config it records (one
step budget for all tasks), and the training flags it applies (`--jit_compile`,
`--mixed_precision`, `--max_minutes`), shown on a model that owns its compile defaults."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from bertgpt_tf.config import Config, fields_ignored_by
from bertgpt_tf.training.callbacks import global_step
from bertgpt_tf.training.fit import run_config, start_run, train_from_config
from bertgpt_tf.training.task_inputs import TaskInputs


class Regressor(keras.Model):
    """y = w.x + b, compiled with its own loss (as every task model is)."""

    def __init__(self):
        inputs = keras.Input((4,), name="x")
        super().__init__(inputs, keras.layers.Dense(1, name="dense")(inputs))

    def compile(self, optimizer="adamw", **kwargs):
        super().compile(optimizer, loss="mse", **kwargs)


def _inputs(batches_per_pass: int = 0, **derived) -> TaskInputs:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = x @ np.array([1.0, -2.0, 0.5, 3.0], "float32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(8).repeat()
    return TaskInputs(None, data, None, 0, 1.0, batches_per_pass=batches_per_pass, derived=derived)


def _config(tmp_path, **overrides) -> Config:
    defaults = dict(task="clm", model_dir=str(tmp_path / "run"), batch_size=8, steps=40,
                    steps_per_epoch=10, warmup_steps=0, learning_rate=0.3, checkpoint_every=0)  # fmt: skip
    return start_run(Config.from_preset("tiny", **{**defaults, **overrides}))  # the run dir


def test_one_step_budget_for_every_task(tmp_path):
    """--epochs counts passes, at most --steps; a Keras epoch is at most one pass; warmup
    at most a tenth of the run; what the data decided is recorded, not asked of the user."""
    config = _config(tmp_path, steps=1000, epochs=2, steps_per_epoch=500, warmup_steps=1000)
    run = run_config(config, _inputs(batches_per_pass=30, vocabulary_size=77))
    t = run.train
    assert (t.steps, t.steps_per_epoch, t.warmup_steps) == (60, 30, 6)
    assert run.model.vocabulary_size == 77 and config.model.vocabulary_size != 77
    assert run_config(config.replace(steps=45), _inputs(30)).train.steps == 45  # --steps wins
    assert run_config(config.replace(epochs=0), _inputs(30)).train.steps == 1000
    uncounted = run_config(config, _inputs()).train  # a corpus not counted: --steps alone
    assert (uncounted.steps, uncounted.steps_per_epoch) == (1000, 500)


def test_steps_per_execution_reaches_the_model_and_budgets_are_whole_calls(tmp_path):
    """--steps_per_execution: the step is compiled to run k steps per call; what the data
    cuts short (passes, a Keras epoch) is rounded down to whole calls; the user's own
    --steps, --steps_per_epoch and --validation_steps must be multiples, or it says so."""
    config = _config(tmp_path, steps=1000, epochs=2, steps_per_epoch=500, warmup_steps=1000,
                     steps_per_execution=4, validation_steps=8)  # fmt: skip
    t = run_config(config, _inputs(batches_per_pass=30)).train
    assert (t.steps, t.steps_per_epoch) == (60, 28)  # 2 passes = 60; one pass 30 -> 28
    _, model, _, _ = train_from_config(
        _config(tmp_path, steps=40, steps_per_execution=5), _inputs(), lambda c: Regressor()
    )
    assert model.steps_per_execution == 5 and global_step(model) == 40
    for name, value in (("steps", 42), ("steps_per_epoch", 9), ("validation_steps", 6)):
        with pytest.raises(ValueError, match=f"--{name}={value} is not a multiple of"):
            _config(tmp_path, **{"steps_per_execution": 5, name: value})
    with pytest.raises(ValueError, match="steps_per_execution must be >= 1"):
        _config(tmp_path, steps_per_execution=0)


def test_fine_tuning_defaults_to_three_passes(tmp_path):
    assert Config.from_preset("tiny", task="classify").train.epochs == 3
    assert Config.from_preset("tiny", task="mlm").train.epochs == 0


def test_the_run_trains_its_budget_with_the_model_s_own_loss(tmp_path):
    config, model, history, _ = train_from_config(
        _config(tmp_path), _inputs(), lambda c: Regressor()
    )
    assert global_step(model) == 40 and len(history.history["loss"]) == 4
    assert history.history["loss"][-1] < 0.2 * history.history["loss"][0]
    with open(os.path.join(config.train.model_dir, "config.json")) as f:
        assert json.load(f)["train"]["steps"] == 40
    assert model.jit_compile is False


def test_jit_compile_and_mixed_precision_reach_the_model(tmp_path):
    """--jit_compile compiles the step with XLA; --mixed_precision builds in bf16 compute
    with fp32 variables, and the process's policy is restored after."""
    seen = {}

    def build(config):
        seen["policy"] = keras.mixed_precision.global_policy().name
        return Regressor()

    config = _config(tmp_path, steps=4, jit_compile=True, mixed_precision=True)
    _, model, _, _ = train_from_config(config, _inputs(), build)
    assert model.jit_compile is True
    assert seen["policy"] == "mixed_bfloat16"
    assert model.get_layer("dense").compute_dtype == "bfloat16"
    assert model.get_layer("dense").kernel.dtype == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"


def test_max_minutes_stops_the_run_before_its_steps(tmp_path):
    """A budget of 6 ms ends the run at the end of its first step (tracing alone is
    longer), far before --steps=1000."""
    config = _config(tmp_path, steps=1000, max_minutes=1e-4)
    _, model, _, _ = train_from_config(config, _inputs(), lambda c: Regressor())
    assert global_step(model) == 1


def test_a_measured_field_is_refused_as_a_flag():
    with pytest.raises(
        ValueError, match="--vocabulary_size is not a setting: .*--vocabulary_size_target"
    ):
        fields_ignored_by("mlm", ["vocabulary_size"])
    with pytest.raises(ValueError, match="--target_vocabulary_size is not a setting"):
        fields_ignored_by("translate", ["target_vocabulary_size"])
    assert fields_ignored_by("mlm", ["beam_size", "steps"]) == ["beam_size"]

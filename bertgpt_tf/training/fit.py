"""Strategy, run directory and the `model.fit` call shared by every task.

Resuming: `RunBackup` saves weights + optimizer state (+ dropout RNG) at each (short)
epoch, write-then-rename. A restarted run reloads them, and `fit` skips the batches the
interrupted run consumed (`resume_step`), so the restarted run sees exactly the data the
uninterrupted one would have. A non-finite loss ends the run before it overwrites them.
"""

import contextlib
import json
import os
import time

import keras
import tensorflow as tf
from absl import logging

from bertgpt_tf.atomic_file import atomic_path
from bertgpt_tf.config import Config
from bertgpt_tf.hardware import native_bf16
from bertgpt_tf.training import cluster
from bertgpt_tf.training.callbacks import (
    DecayToBudget,
    StepBudget,
    StepCheckpoint,
    StopOnNonFiniteLoss,
    TensorBoard,
    TimeBudget,
    TokenCounter,
    TrainingMonitor,
)
from bertgpt_tf.training.optimizer import WarmupDecay, make_optimizer
from bertgpt_tf.training.run_backup import RunBackup
from bertgpt_tf.training.task_inputs import TaskInputs

BACKUP_DIR = "backup"


def make_strategy() -> tf.distribute.Strategy:
    """On a cluster (`cluster.connect`), MultiWorkerMirroredStrategy; else MirroredStrategy
    over every visible GPU, else every (logical) CPU device; with one device, TF's default
    strategy: the same numbers without the mirrored wrapper, which cost ~6 % of a
    training step on one CPU device (benchmarks/training_speed.py)."""
    if cluster.strategy() is not None:
        return cluster.strategy()
    devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
    if len(devices) == 1:
        return tf.distribute.get_strategy()
    return tf.distribute.MirroredStrategy(devices=[d.name for d in devices])


def resolve_run_dir(model_dir: str, task: str) -> str:
    """`model_dir` or a fresh `runs/<task>-<timestamp>`; created if missing."""
    run_dir = model_dir or os.path.join("runs", f"{task}-{time.strftime('%Y%m%d-%H%M%S')}")
    os.makedirs(run_dir, exist_ok=True)
    return run_dir


def start_run(config: Config) -> Config:
    """Joins the cluster if there is one (`--cluster_resolver`, before any TF op), seeds,
    then the config with its run dir (`model_dir`, or a fresh one) created: on a cluster's
    non-chief worker, its own folder inside (`cluster.worker_run_dir`). Seed before
    the rest: tf.random.set_seed clears eager kernels, which would delete a
    SentencePiece tokenizer's resource made before it."""
    if cluster.connect(config.train.cluster_resolver) and not config.train.model_dir:
        raise ValueError("a multi-worker run needs --model_dir: one folder every worker sees")
    keras.utils.set_random_seed(config.train.seed)
    run_dir = cluster.worker_run_dir(resolve_run_dir(config.train.model_dir, config.train.task))
    os.makedirs(run_dir, exist_ok=True)
    return config.replace(model_dir=run_dir)


@contextlib.contextmanager
def precision_policy(mixed_precision: bool):
    """`--mixed_precision`: bf16 compute, fp32 variables (Keras' "mixed_bfloat16") for
    the models built inside; the process's policy is restored on the way out."""
    policy = keras.mixed_precision.global_policy()
    if mixed_precision:
        if not native_bf16():
            logging.warning(
                "--mixed_precision: this machine has no native bf16 (bertgpt_tf/hardware.py), "
                "so every bf16 op is emulated and the step is slower than fp32 (2.1-2.3x on an "
                "AVX2-only CPU, docs/experiments.md); --nomixed_precision trains faster here"
            )
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(policy)


def run_config(config: Config, inputs: TaskInputs) -> Config:
    """The config a run trains and records in config.json: the user's, with what its
    inputs decided (vocabulary, its size, the dataset's name) and one step budget for
    every task: `--steps`, or `--epochs` passes over the training data when that is
    fewer (`--max_minutes` stops earlier still); a Keras epoch (validation, backup, log
    cadence: `--steps_per_epoch`) at most one pass; warmup at most a tenth of the steps."""
    config = config.replace(**inputs.derived)
    t, one_pass = config.train, inputs.batches_per_pass
    steps = min(t.steps, t.epochs * one_pass) if t.epochs and one_pass else t.steps
    steps_per_epoch = min(t.steps_per_epoch, one_pass or t.steps_per_epoch)
    k = t.steps_per_execution  # what the data cut short, down to whole calls
    steps, steps_per_epoch = (max(n // k * k, k) for n in (steps, steps_per_epoch))
    return config.replace(
        steps=steps, steps_per_epoch=steps_per_epoch, warmup_steps=min(t.warmup_steps, steps // 10)
    )


def train_from_config(
    config: Config, inputs: TaskInputs, build, callbacks_for=None
) -> tuple[Config, keras.Model, keras.callbacks.History, TrainingMonitor]:
    """The run config (`run_config`) -> config.json -> under `--mixed_precision` and the
    strategy: `build(config)`, compiled with the task model's own loss and metrics, the
    configured AdamW schedule and `--jit_compile`, and `callbacks_for(model)` (extra
    callbacks; what to measure before training) -> `fit` on `inputs`.
    Returns (run config, model, history, monitor)."""
    config = run_config(config, inputs)
    write_run_config(config)
    t = config.train
    with precision_policy(t.mixed_precision), make_strategy().scope():
        model = build(config)
        optimizer = make_optimizer(
            t.learning_rate, t.warmup_steps, t.steps, t.decay, t.weight_decay, t.beta_2
        )
        model.compile(
            optimizer, jit_compile=t.jit_compile, steps_per_execution=t.steps_per_execution
        )
        extra_callbacks = callbacks_for(model) if callbacks_for else ()
    history, monitor = fit(
        model, inputs.train, inputs.validation, t.model_dir, t.steps, t.steps_per_epoch,
        t.batch_size, inputs.tokens_per_example, validation_steps=inputs.validation_steps,
        checkpoint_every=t.checkpoint_every, max_minutes=t.max_minutes,
        extra_callbacks=extra_callbacks,
    )  # fmt: skip
    return config, model, history, monitor


def save_model(model: keras.Model, path: str) -> None:
    """`model.save(path)`, write-then-rename."""
    with atomic_path(path) as staging:
        model.save(staging)


def write_run_config(config: Config) -> None:
    """`<run dir>/config.json` (write-then-rename). When the run dir already has one (a
    resumed run), its vocabulary sizes must be the ones about to train: a vocabulary
    file that changed or was cut short since would silently train a different model."""
    path = os.path.join(config.train.model_dir, "config.json")
    if os.path.exists(path):
        recorded = Config.from_json(path).model
        for field, file in (
            ("vocabulary_size", "vocabulary"),
            ("target_vocabulary_size", "target_vocabulary"),
        ):
            before, now = getattr(recorded, field), getattr(config.model, field)
            if before != now:
                raise ValueError(
                    f"{getattr(config.data, file)} has {now} tokens, but this run "
                    f"({path}) trained with {before}: the vocabulary file changed or is "
                    "truncated; restore it, or start a new --model_dir"
                )
    config.to_json(path)


def backup_dir(run_dir: str) -> str:
    """The backup every process of a run restores from: the chief's."""
    return os.path.join(cluster.chief_run_dir(run_dir), BACKUP_DIR)


def resume_step(run_dir: str, steps_per_epoch: int) -> int:
    """Global step at which an interrupted run in `run_dir` will resume (0 if none)."""
    path = os.path.join(backup_dir(run_dir), "training_metadata.json")
    if not os.path.exists(path):
        return 0
    with open(path) as f:
        return int(json.load(f)["epoch"]) * steps_per_epoch


def fit(
    model: keras.Model,
    train_data: tf.data.Dataset,
    validation_data: tf.data.Dataset | None,
    run_dir: str,
    steps: int,
    steps_per_epoch: int,
    batch_size: int,
    tokens_per_example: int,
    validation_steps: int = 0,
    checkpoint_every: int = 0,
    max_minutes: float = 0.0,
    log_every: int = 50,
    extra_callbacks: tuple = (),
) -> tuple[keras.callbacks.History, TrainingMonitor]:
    """Runs `model.fit` for `steps` steps in epochs of `steps_per_epoch`, validating,
    backing up and logging to TensorBoard under `run_dir`; a restarted run resumes from
    its backup, past the batches it already trained on (`train_data` must be repeated,
    in a fixed order). `extra_callbacks` run before the TensorBoard callback, so metrics
    they add to the logs are recorded."""
    log_dir = os.path.join(run_dir, "logs")
    counter = TokenCounter()
    train_data = train_data.skip(resume_step(run_dir, steps_per_epoch))
    train_data, validation_data = cluster.shard_by_data(train_data, validation_data)
    train_data = counter.wrap(train_data)
    monitor = TrainingMonitor(
        log_dir, batch_size, tokens_per_example, log_every, steps, max_minutes, counter
    )
    callbacks = [
        StopOnNonFiniteLoss(),  # first: raises before the backup/checkpoints save NaNs
        RunBackup(backup_dir(run_dir), save=cluster.is_chief()),
        *extra_callbacks,
        TensorBoard(log_dir),
        monitor,
        StepBudget(steps),
    ]
    if checkpoint_every:
        callbacks.append(StepCheckpoint(os.path.join(run_dir, "checkpoints"), checkpoint_every))
    if max_minutes:
        callbacks.append(TimeBudget(max_minutes))
        # Keras keeps the schedule it was given as `_learning_rate` (no public getter).
        schedule = getattr(model.optimizer, "_learning_rate", None)
        if isinstance(schedule, WarmupDecay):
            callbacks.append(DecayToBudget(schedule, steps, max_minutes))
    epochs = max(1, -(-steps // steps_per_epoch))
    logging.info(
        "training %d steps = %d epochs x %d steps; run dir %s",
        steps,
        epochs,
        steps_per_epoch,
        run_dir,
    )
    try:
        history = model.fit(
            train_data,
            epochs=epochs,
            steps_per_epoch=steps_per_epoch,
            validation_data=validation_data,
            validation_steps=validation_steps or None,
            callbacks=callbacks,
            verbose=2,
            shuffle=False,  # a tf.data stream: shuffled (or not) by the pipeline itself
        )
    finally:  # also when fit raises (no on_train_end): what was logged reaches the disk
        for callback in callbacks:
            if hasattr(callback, "close_writers"):
                callback.close_writers()
    return history, monitor

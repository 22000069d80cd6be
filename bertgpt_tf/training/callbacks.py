"""What `model.fit` lacks: throughput/LR logging, step checkpoints, a wall-time budget."""

import glob
import os
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging


def global_step(model: keras.Model) -> int:
    """Optimizer steps taken so far (a MirroredVariable under a strategy)."""
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


class TrainingMonitor(keras.callbacks.Callback):
    """Every `log_every` steps: logs a line and writes learning rate, examples/s and
    tokens/s to TensorBoard (`<log_dir>/train`), keyed by the global step.

    Args:
        log_dir: TensorBoard directory (the same one `keras.callbacks.TensorBoard` uses).
        batch_size: global batch size.
        tokens_per_example: tokens each example feeds the model (sequence length).
        log_every: steps between log lines.
    """

    def __init__(self, log_dir: str, batch_size: int, tokens_per_example: int, log_every=50):
        super().__init__()
        self.writer = tf.summary.create_file_writer(os.path.join(log_dir, "train"))
        self.batch_size = batch_size
        self.tokens_per_example = tokens_per_example
        self.log_every = log_every
        self.last_time = None
        self.last_step = 0
        self.total_steps = 0
        self.total_seconds = 0.0

    def on_train_batch_begin(self, batch, logs=None):
        if self.last_time is None:  # measure from the first step, not from tracing
            self.last_time = time.perf_counter()
            self.last_step = global_step(self.model)

    def on_train_batch_end(self, batch, logs=None):
        step = global_step(self.model)
        if step - self.last_step < self.log_every:
            return
        now = time.perf_counter()
        seconds = now - self.last_time
        steps = step - self.last_step
        self.total_steps += steps
        self.total_seconds += seconds
        examples_per_second = steps * self.batch_size / seconds
        tokens_per_second = examples_per_second * self.tokens_per_example
        learning_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        with self.writer.as_default(step=step):
            tf.summary.scalar("learning_rate", learning_rate)
            tf.summary.scalar("examples_per_second", examples_per_second)
            tf.summary.scalar("tokens_per_second", tokens_per_second)
        loss = (logs or {}).get("loss", float("nan"))
        logging.info(
            "step %d  loss %.4f  lr %.2e  %.1f examples/s  %.0f tokens/s",
            step, loss, learning_rate, examples_per_second, tokens_per_second,
        )  # fmt: skip
        self.last_time, self.last_step = now, step

    def on_train_end(self, logs=None):
        if self.last_time is not None:  # count the steps since the last log line too
            self.total_steps += global_step(self.model) - self.last_step
            self.total_seconds += time.perf_counter() - self.last_time
            self.last_time = None

    def mean_tokens_per_second(self) -> float:
        if not self.total_seconds:
            return 0.0
        return self.total_steps * self.batch_size * self.tokens_per_example / self.total_seconds


class StepCheckpoint(keras.callbacks.Callback):
    """Saves `step-<global step>.weights.h5` every `every` steps, keeping the last `keep`."""

    def __init__(self, directory: str, every: int, keep: int = 3):
        super().__init__()
        self.directory = directory
        self.every = every
        self.keep = keep
        os.makedirs(directory, exist_ok=True)

    def on_train_batch_end(self, batch, logs=None):
        step = global_step(self.model)
        if self.every and step % self.every == 0:
            self.model.save_weights(os.path.join(self.directory, f"step-{step:08d}.weights.h5"))
            for old in sorted(glob.glob(os.path.join(self.directory, "step-*.weights.h5")))[
                : -self.keep
            ]:
                os.remove(old)


class TimeBudget(keras.callbacks.Callback):
    """Stops training cleanly once `max_minutes` of wall time have passed."""

    def __init__(self, max_minutes: float):
        super().__init__()
        self.max_seconds = max_minutes * 60
        self.start = None

    def on_train_begin(self, logs=None):
        self.start = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        if time.monotonic() - self.start > self.max_seconds:
            logging.info("time budget of %.1f min reached: stopping", self.max_seconds / 60)
            self.model.stop_training = True


class StepBudget(keras.callbacks.Callback):
    """Stops training once the optimizer has taken `steps` steps, so a budget that is
    not a whole number of epochs is not rounded up to one (the last epoch ends early,
    still validated and backed up). Starts from `optimizer.iterations`, which a resumed
    run restores, so the budget is global, not per process; then counts batches, so no
    step reads a variable back from the device."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps = steps
        self.step = 0

    def on_train_begin(self, logs=None):
        self.step = global_step(self.model)

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        if self.step >= self.steps:
            self.model.stop_training = True


class SeedStateBackup(keras.callbacks.Callback):
    """Saves and restores the dropout RNG state next to `BackupAndRestore`'s backup.

    Keras' `save_weights` leaves out `SeedGenerator` states, so a resumed run would
    replay the dropout masks of step 0. Saved at every epoch end, like the backup.
    """

    def __init__(self, backup_dir: str):
        super().__init__()
        self.path = os.path.join(backup_dir, "seed_states.npz")

    def _states(self) -> dict:
        return {v.path: v for v in self.model.variables if "seed_generator_state" in v.path}

    def on_train_begin(self, logs=None):
        if os.path.exists(self.path):
            saved = np.load(self.path)
            for path, variable in self._states().items():
                if path in saved:
                    variable.assign(saved[path])

    def on_epoch_end(self, epoch, logs=None):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        staging = self.path + ".tmp.npz"
        np.savez(staging, **{p: keras.ops.convert_to_numpy(v) for p, v in self._states().items()})
        os.replace(staging, self.path)


class PerplexityLogger(keras.callbacks.Callback):
    """Adds `perplexity` = exp(loss) and `val_perplexity` to the epoch logs (so the
    TensorBoard callback after it records them). Meaningful for token-level losses."""

    def on_epoch_end(self, epoch, logs=None):
        for key in ("loss", "val_loss"):
            if logs is not None and key in logs:
                logs[key.replace("loss", "perplexity")] = float(np.exp(min(logs[key], 50.0)))


class SampleTextLogger(keras.callbacks.Callback):
    """Writes a few generated texts to TensorBoard (Text tab) at every epoch end.

    Args:
        log_dir: TensorBoard directory; samples go to `<log_dir>/validation`.
        sample_fn: returns a list of strings (e.g. prompt + continuation).
    """

    def __init__(self, log_dir: str, sample_fn):
        super().__init__()
        self.writer = tf.summary.create_file_writer(os.path.join(log_dir, "validation"))
        self.sample_fn = sample_fn

    def on_epoch_end(self, epoch, logs=None):
        texts = self.sample_fn()
        with self.writer.as_default(step=global_step(self.model)):
            # Markdown code blocks keep newlines and spacing in the Text tab.
            tf.summary.text("samples", tf.constant(["```\n" + t + "\n```" for t in texts]))
        logging.info("sample: %r", texts[0][:200])

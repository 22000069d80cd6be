"""What `model.fit` lacks: throughput/LR logging, TensorBoard scalars that reach the disk,
a stop at the first non-finite loss, step checkpoints, a wall-time budget."""

import glob
import os
import time

import keras
import numpy as np
import tensorflow as tf
from absl import logging

from bertgpt_tf.atomic_file import atomic_path


def global_step(model: keras.Model) -> int:
    """Optimizer steps taken so far (a MirroredVariable under a strategy)."""
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


class TrainingMonitor(keras.callbacks.Callback):
    """Every `log_every` steps and at each epoch's end: logs a line and writes the
    learning rate, examples/s, tokens/s and the batch logs (`batch_loss`, ...: the
    epoch's running means) to TensorBoard (`<log_dir>/train`), keyed by the global step,
    and flushes, so a running job shows them at once and a short one has them at all.
    The clock stops during validation: the rates are training throughput. Each line ends
    with an ETA: the steps left at the last window's rate, or the time budget left if
    that ends first. The step is read from the device once, at the start (a resumed run
    restores it), then counted: no per-batch read-back.

    Args:
        log_dir: TensorBoard directory (the same one `TensorBoard` uses).
        batch_size: global batch size.
        tokens_per_example: tokens each example feeds the model (sequence length).
        log_every: steps between log lines.
        total_steps: the run's step budget (for the ETA); 0: no ETA from steps.
        max_minutes: the run's time budget (for the ETA); 0: none.
    """

    def __init__(
        self,
        log_dir: str,
        batch_size: int,
        tokens_per_example: int,
        log_every=50,
        total_steps: int = 0,
        max_minutes: float = 0.0,
    ):
        super().__init__()
        self.total_steps_budget = total_steps
        self.max_seconds = max_minutes * 60
        self.step = 0
        self.started = None
        self.writer = tf.summary.create_file_writer(os.path.join(log_dir, "train"))
        self.batch_size = batch_size
        self.tokens_per_example = tokens_per_example
        self.log_every = log_every
        self.last_time = None
        self.last_step = 0
        self.paused = 0.0  # seconds of validation since `last_time`
        self.pause_start = None
        self.logs = {}
        self.total_steps = 0
        self.total_seconds = 0.0

    def on_train_begin(self, logs=None):
        self.step = global_step(self.model)
        self.started = time.perf_counter()

    def on_train_batch_begin(self, batch, logs=None):
        if self.last_time is None:  # measure from the first step, not from tracing
            self.last_time = time.perf_counter()
            self.last_step = self.step
            self.paused = 0.0

    def on_train_batch_end(self, batch, logs=None):
        self.logs = logs or {}
        self.step += 1
        if self.step - self.last_step >= self.log_every:
            self._write(self.step)

    def on_test_begin(self, logs=None):
        self.pause_start = time.perf_counter()

    def on_test_end(self, logs=None):
        if self.pause_start is not None:
            self.paused += time.perf_counter() - self.pause_start
            self.pause_start = None

    def on_epoch_end(self, epoch, logs=None):
        if self.last_time is not None and self.step > self.last_step:  # the epoch's last steps
            self._write(self.step)

    def on_train_end(self, logs=None):
        self.last_time = None
        self.close_writers()

    def close_writers(self):
        self.writer.close()

    def _write(self, step: int) -> None:
        now = time.perf_counter()
        seconds = max(now - self.last_time - self.paused, 1e-9)
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
            for name, value in self.logs.items():
                tf.summary.scalar(f"batch_{name}", value)
        self.writer.flush()
        loss = self.logs.get("loss", float("nan"))
        logging.info(
            "step %d  loss %.4f  lr %.2e  %.1f examples/s  %.0f tokens/s%s",
            step, loss, learning_rate, examples_per_second, tokens_per_second,
            self._eta(step, steps / seconds, now),
        )  # fmt: skip
        self.last_time, self.last_step, self.paused = now, step, 0.0

    def _eta(self, step: int, steps_per_second: float, now: float) -> str:
        """ "  ETA 12m05s" (the earlier of the step and time budgets), or "" without one."""
        left = []
        if self.total_steps_budget:
            left.append(max(self.total_steps_budget - step, 0) / max(steps_per_second, 1e-9))
        if self.max_seconds and self.started is not None:
            left.append(max(self.max_seconds - (now - self.started), 0.0))
        if not left:
            return ""
        minutes, seconds = divmod(int(min(left)), 60)
        return f"  ETA {minutes}m{seconds:02d}s"

    def mean_tokens_per_second(self) -> float:
        if not self.total_seconds:
            return 0.0
        return self.total_steps * self.batch_size * self.tokens_per_example / self.total_seconds


class TensorBoard(keras.callbacks.TensorBoard):
    """Keras' callback for the epoch metrics (`epoch_loss`, `epoch_<metric>`, in `train/`
    and `validation/`), flushed at each epoch's end. Epoch level only: keras' integer
    `update_freq` wraps the whole run in `record_if(batch % update_freq == 0)`, which
    silently drops every other summary (its own epoch metrics included) unless an epoch
    ends on a multiple (tensorflow/tensorflow#49109); `TrainingMonitor` writes the
    batch-level scalars instead."""

    def __init__(self, log_dir: str):
        super().__init__(log_dir, update_freq="epoch", write_graph=False)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        for writer in self._writers.values():
            writer.flush()

    def close_writers(self):
        self._close_writers()


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    """Ends the run with `FloatingPointError` at the first step whose loss is NaN or
    infinite, and at an epoch end whose weights are (a step can turn them NaN after a
    finite loss). Raising, where keras' `TerminateOnNaN` only stops, skips the callbacks
    after it in the list and the rest of the run: placed first, it keeps the backup and
    the checkpoints at their last good state, and nothing is saved or exported."""

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            raise FloatingPointError(
                f"loss is {float(loss)} at step {global_step(self.model)} (epoch {self.epoch + 1}): "
                "training stopped, the last good backup and checkpoints are kept; resume "
                "(same --model_dir) with a lower --learning_rate, or check the data"
            )

    def on_epoch_end(self, epoch, logs=None):
        check_finite_weights(self.model)


def check_finite_weights(model: keras.Model) -> None:
    """Raises `FloatingPointError` naming the step and the first non-finite weights."""
    bad = [
        v.path
        for v in model.trainable_variables
        if not np.isfinite(keras.ops.convert_to_numpy(v)).all()
    ]
    if bad:
        raise FloatingPointError(
            f"weights {', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''} are not finite "
            f"after step {global_step(model)}: training stopped, the last good backup and "
            "checkpoints are kept; resume (same --model_dir) with a lower --learning_rate"
        )


class StepCheckpoint(keras.callbacks.Callback):
    """Saves `step-<global step>.weights.h5` every `every` steps (write-then-rename, and
    only finite weights), keeping the last `keep`."""

    def __init__(self, directory: str, every: int, keep: int = 3):
        super().__init__()
        self.directory = directory
        self.every = every
        self.keep = keep
        self.step = 0
        os.makedirs(directory, exist_ok=True)

    def on_train_begin(self, logs=None):
        self.step = global_step(self.model)  # once; then counted (no per-batch read-back)

    def on_train_batch_end(self, batch, logs=None):
        self.step += 1
        step = self.step
        if self.every and step % self.every == 0:
            check_finite_weights(self.model)
            path = os.path.join(self.directory, f"step-{step:08d}.weights.h5")
            with atomic_path(path) as staging:
                self.model.save_weights(staging)
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
        self.writer.flush()
        logging.info("sample: %r", texts[0][:200])

    def on_train_end(self, logs=None):
        self.close_writers()

    def close_writers(self):
        self.writer.close()

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
from bertgpt_tf.training import cluster


def global_step(model: keras.Model) -> int:
    """Optimizer steps taken so far (a MirroredVariable under a strategy)."""
    return int(keras.ops.convert_to_numpy(model.optimizer.iterations))


class StepCounter(keras.callbacks.Callback):
    """Knows the global step at every batch end without reading the device: the
    optimizer's step once at the start (a resumed run restores it), then the step index
    Keras passes, which moves by `steps_per_execution` per call of the compiled step.
    Subclasses call `super()` first in `on_train_begin`, `on_epoch_begin` and
    `on_train_batch_end`, then read `self.step`."""

    def __init__(self):
        super().__init__()
        self.step = 0
        self.previous_step = 0  # at the last call's end
        self.epoch_start = 0

    def on_train_begin(self, logs=None):
        self.step = self.previous_step = global_step(self.model)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = self.step

    def on_train_batch_end(self, batch, logs=None):
        self.previous_step = self.step
        self.step = self.epoch_start + batch + 1  # `batch`: the call's last step index

    def crossed(self, every: int) -> bool:
        """Whether the last call reached a multiple of `every` steps."""
        return self.step // every > self.previous_step // every


class TokenCounter:
    """Counts the real (`padding_mask` 1) and padded tokens of the batches a training
    dataset delivers, in host variables the `TrainingMonitor` reads: no read-back from
    the training device. `wrap` adds the count to the dataset; batches without a
    `*padding_mask` input are not counted (`counts` then stays None)."""

    def __init__(self):
        self.variables = [tf.Variable(0, dtype=tf.int64, trainable=False) for _ in range(3)]
        self.counting = False

    def wrap(self, dataset: tf.data.Dataset) -> tf.data.Dataset:
        inputs = dataset.element_spec[0] if isinstance(dataset.element_spec, tuple) else None
        masks = sorted(k for k in inputs if k.endswith("padding_mask")) if isinstance(
            inputs, dict) else []  # fmt: skip
        if not masks:
            return dataset
        self.counting = True
        real_tokens, padded_tokens, batches = self.variables

        def count(x, *rest):
            real = tf.add_n([tf.reduce_sum(tf.cast(x[k], tf.int64)) for k in masks])
            padded = tf.add_n([tf.size(x[k], out_type=tf.int64) for k in masks])
            updates = [real_tokens.assign_add(real), padded_tokens.assign_add(padded),
                       batches.assign_add(1)]  # fmt: skip
            with tf.control_dependencies(updates):
                return (tf.nest.map_structure(tf.identity, x), *rest)

        return dataset.map(count)

    def counts(self) -> tuple[int, int, int] | None:
        """(real tokens, padded tokens, batches) delivered so far, or None."""
        return tuple(int(v.numpy()) for v in self.variables) if self.counting else None


class TrainingMonitor(StepCounter):
    """Every `log_every` steps and at each epoch's end: logs a line (loss, the task's
    metrics such as MLM accuracy, learning rate, rates, ETA) and writes the
    learning rate, examples/s, tokens/s and the batch logs (`batch_loss`, ...: the
    epoch's running means) to TensorBoard (`<log_dir>/train`), keyed by the global step,
    and flushes, so a running job shows them at once and a short one has them at all.
    The clock stops during validation: the rates are training throughput. Each line ends
    with an ETA: the steps left at the last window's rate, or the time budget left if
    that ends first. The step is counted on the host (`StepCounter`): no per-batch
    read-back.

    Args:
        log_dir: TensorBoard directory (the same one `TensorBoard` uses).
        batch_size: global batch size.
        tokens_per_example: tokens each example feeds the model (sequence length).
        log_every: steps between log lines.
        total_steps: the run's step budget (for the ETA); 0: no ETA from steps.
        max_minutes: the run's time budget (for the ETA); 0: none.
        counter: a `TokenCounter` on the training data: tokens/s are then real tokens
            (the counted mean per batch, times steps/s), padded tokens/s beside them.
            Without one: steps x `batch_size` x `tokens_per_example`.
    """

    def __init__(
        self,
        log_dir: str,
        batch_size: int,
        tokens_per_example: int,
        log_every=50,
        total_steps: int = 0,
        max_minutes: float = 0.0,
        counter: TokenCounter | None = None,
    ):
        super().__init__()
        self.counter = counter
        self.last_counts = None  # the counter at the last line
        self.per_step = (float(tokens_per_example) * batch_size,) * 2  # real, padded
        self.total_steps_budget = total_steps
        self.max_seconds = max_minutes * 60
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
        self.total_seconds = 0.0
        self.total_tokens = 0.0

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.started = time.perf_counter()
        self.last_counts = self.counter.counts() if self.counter else None

    def on_train_batch_begin(self, batch, logs=None):
        if self.last_time is None:  # measure from the first step, not from tracing
            self.last_time = time.perf_counter()
            self.last_step = self.step
            self.paused = 0.0

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        self.logs = logs or {}
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
        self.total_seconds += seconds
        examples_per_second = steps * self.batch_size / seconds
        real, padded = (per_step * steps / seconds for per_step in self._tokens_per_step())
        self.total_tokens += real * seconds
        learning_rate = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        with self.writer.as_default(step=step):
            tf.summary.scalar("learning_rate", learning_rate)
            tf.summary.scalar("examples_per_second", examples_per_second)
            tf.summary.scalar("tokens_per_second", real)
            tf.summary.scalar("padded_tokens_per_second", padded)
            for name, value in self.logs.items():
                tf.summary.scalar(f"batch_{name}", value)
        self.writer.flush()
        loss = self.logs.get("loss", float("nan"))
        metrics = "".join(f"  {k} {float(v):.4f}" for k, v in self.logs.items() if k != "loss")
        logging.info(
            "step %d  loss %.4f%s  lr %.2e  %.1f examples/s  %.0f tokens/s (%.0f %% of %.0f"
            " padded)%s", step, loss, metrics, learning_rate, examples_per_second, real,
            100 * real / max(padded, 1e-9), padded, self._eta(step, steps / seconds, now),
        )  # fmt: skip
        self.last_time, self.last_step, self.paused = now, step, 0.0

    def _tokens_per_step(self) -> tuple[float, float]:
        """(real, padded) tokens per step: the counter's mean over the batches delivered
        since the last line (the pipeline runs ahead of the step, but its batches are
        alike), else the last such mean, else batch x tokens_per_example."""
        counts = self.counter.counts() if self.counter else None
        if counts is not None and self.last_counts is not None:
            real, padded, batches = (a - b for a, b in zip(counts, self.last_counts, strict=True))
            if batches:
                self.per_step = (real / batches, padded / batches)
            self.last_counts = counts
        return self.per_step

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
        """Real tokens per second of training, over the run."""
        return self.total_tokens / self.total_seconds if self.total_seconds else 0.0


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


class StepCheckpoint(StepCounter):
    """Saves `step-<global step>.weights.h5` every `every` steps (at the first call of
    the compiled step that reaches a multiple; write-then-rename, and only finite
    weights), keeping the last `keep`."""

    def __init__(self, directory: str, every: int, keep: int = 3):
        super().__init__()
        self.directory = directory
        self.every = every
        self.keep = keep
        os.makedirs(directory, exist_ok=True)

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        step = self.step
        if self.every and self.crossed(self.every):
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
        self.calls = 0

    def on_train_batch_end(self, batch, logs=None):
        # On a cluster every worker must stop at the same step: their mean clock decides,
        # read every 10 calls of the compiled step (one all-reduce each).
        self.calls += 1
        if cluster.strategy() is not None and self.calls % 10 != 1:
            return
        if cluster.agreed_mean(time.monotonic() - self.start) > self.max_seconds:
            logging.info("time budget of %.1f min reached: stopping", self.max_seconds / 60)
            self.model.stop_training = True


class DecayToBudget(StepCounter):
    """Ends the learning-rate decay where the run will end: at `steps`, or earlier at the
    step the `max_minutes` budget will stop it (Cramming's budget-based schedule, Geiping
    & Goldstein 2022). Every `every` steps (at the first call of the compiled step that
    reaches a multiple) it estimates that step from this launch's rate (steps per second
    of wall time, validation included, the first window's tracing left out) and moves
    `schedule.end_step` there. Only the host clock is read."""

    def __init__(self, schedule, steps: int, max_minutes: float, every: int = 20):
        super().__init__()
        self.schedule = schedule
        self.steps = steps
        self.max_seconds = max_minutes * 60
        self.every = every

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self.start = time.monotonic()
        self.timed_from = None  # (time, step) once the first window is done

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if not self.crossed(self.every):
            return
        now = self.start + cluster.agreed_mean(time.monotonic() - self.start)  # same on all workers
        if self.timed_from is None:
            self.timed_from = (now, self.step)
            return
        rate = (self.step - self.timed_from[1]) / (now - self.timed_from[0])
        left = max(self.max_seconds - (now - self.start), 0.0)
        self.schedule.end_at(min(self.step + left * rate, self.steps))


class StepBudget(StepCounter):
    """Stops training once the optimizer has taken `steps` steps, so a budget that is
    not a whole number of epochs is not rounded up to one (the last epoch ends early,
    still validated and backed up). Starts from `optimizer.iterations`, which a resumed
    run restores, so the budget is global, not per process; then counts steps
    (`StepCounter`), so no step reads a variable back from the device."""

    def __init__(self, steps: int):
        super().__init__()
        self.steps = steps

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
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

"""AdamW with BERT's weight-decay exclusions and a warmup + decay schedule."""

import math

import keras
import tensorflow as tf
from keras import ops

# LayerNorm scale/offset and every bias are not decayed (BERT, RoBERTa, GPT-2 practice).
NO_DECAY_NAMES = ("bias", "gamma", "beta")


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class WarmupDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup to `learning_rate`, then linear or cosine decay to zero.

    The step at which the rate reaches zero is a variable (`end_step`, first
    `total_steps`): a run with a wall-time budget moves it to the step the budget will
    end at (`callbacks.DecayToBudget`), so the rate reaches zero when the run stops,
    whichever budget ends first.

    Args:
        learning_rate: peak rate, reached at `warmup_steps`.
        warmup_steps: steps of linear warmup from 0.
        total_steps: step at which the rate reaches 0 (unless `end_step` is moved).
        decay: "linear" or "cosine".

    Example:
    >>> schedule = WarmupDecay(1e-3, warmup_steps=10, total_steps=110)
    >>> [round(float(schedule(step)), 6) for step in (5, 10, 60)]
    [0.0005, 0.001, 0.0005]
    """

    def __init__(self, learning_rate: float, warmup_steps: int, total_steps: int, decay="linear"):
        self.learning_rate = learning_rate
        self.warmup_steps = warmup_steps
        self.total_steps = max(total_steps, warmup_steps + 1)
        self.decay = decay
        self.end_step = tf.Variable(float(self.total_steps), trainable=False, name="end_step")

    def end_at(self, step: float) -> None:
        """Moves the step the rate reaches zero at (never before warmup ends)."""
        self.end_step.assign(max(float(step), self.warmup_steps + 1.0))

    def __call__(self, step):
        step = ops.cast(step, "float32")
        warmup = step / max(self.warmup_steps, 1)
        progress = ops.clip(
            (step - self.warmup_steps) / (self.end_step - self.warmup_steps), 0.0, 1.0
        )
        if self.decay == "cosine":
            decayed = 0.5 * (1.0 + ops.cos(math.pi * progress))
        else:
            decayed = 1.0 - progress
        return self.learning_rate * ops.where(step < self.warmup_steps, warmup, decayed)

    def get_config(self) -> dict:
        return {
            "learning_rate": self.learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
            "decay": self.decay,
        }


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class ReplicaConsistentAdamW(keras.optimizers.AdamW):
    """AdamW whose `global_clipnorm` clips the *global* gradient under MirroredStrategy.

    Keras 3 (TF backend) clips each replica's local gradient before the cross-replica
    sum, so with 2 replicas a batch is clipped differently than on 1 device. Here the
    gradients are summed across replicas first, the norm of that sum decides the scale,
    and each local gradient is scaled by it (their sum is then the clipped global one).
    Costs one extra all-reduce per step when there are several replicas and clipping is on.
    """

    def _clip_gradients(self, grads):
        context = tf.distribute.get_replica_context()
        if not self.global_clipnorm or context is None or context.num_replicas_in_sync == 1:
            return super()._clip_gradients(grads)
        present = [g for g in grads if g is not None]
        summed = context.all_reduce("sum", present)
        norm = tf.linalg.global_norm(summed)
        scale = tf.math.divide_no_nan(self.global_clipnorm, tf.maximum(norm, self.global_clipnorm))
        return [None if g is None else _scale(g, scale) for g in grads]


def _scale(gradient, scale):
    if isinstance(gradient, tf.IndexedSlices):  # embedding gradients
        return tf.IndexedSlices(gradient.values * scale, gradient.indices, gradient.dense_shape)
    return gradient * tf.cast(scale, gradient.dtype)


def make_optimizer(
    learning_rate: float,
    warmup_steps: int,
    total_steps: int,
    decay: str = "linear",
    weight_decay: float = 0.01,
    beta_2: float = 0.999,
) -> ReplicaConsistentAdamW:
    """AdamW (eps 1e-6, global clipnorm 1.0) on a `WarmupDecay` schedule."""
    optimizer = ReplicaConsistentAdamW(
        learning_rate=WarmupDecay(learning_rate, warmup_steps, total_steps, decay),
        weight_decay=weight_decay,
        beta_1=0.9,
        beta_2=beta_2,
        epsilon=1e-6,
        global_clipnorm=1.0,
    )
    optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY_NAMES))
    return optimizer

"""JointLossModel: the base of pretrainers whose loss needs what the forward pass made."""

import keras
from keras import ops
from keras.src.losses.loss import scale_loss_for_distribution

from bertgpt_tf.tasks.legacy_files import upgraded_weights


class JointLossModel(keras.Model):
    """A subclassed model of functional sub-models that writes only what `fit` lacks:
    `compute_loss` and `compute_metrics` (ELECTRA's targets exist only after sampling;
    DistilBERT's come from the teacher's forward pass). `fit`, `evaluate`, distribution
    and checkpoints stay Keras'.

    Subclasses build every sub-model in `__init__` (the one fine-tuning and export use
    as `self.backbone`, as every task model does), call `track(losses, accuracies)`
    with the names of their loss components and accuracies, and in `compute_loss`
    return `total(loss, components)`; `compute_metrics` updates `self.accuracies` and
    returns `self.results()`. Keras files hold a subclassed model's sub-models under
    their attribute names: renaming one moves its weights (`legacy_files`).
    """

    def track(self, losses: tuple[str, ...], accuracies: tuple[str, ...]) -> None:
        self.trackers = {name: keras.metrics.Mean(name) for name in losses}
        self.accuracies = {name: keras.metrics.Mean(name) for name in accuracies}
        self.built = True  # every sub-model is built (functional) by now

    def total(self, loss, components: dict) -> "keras.KerasTensor":
        """Logs `components` and returns `loss` as this replica's share of the global mean,
        as Keras' compiled losses do (`fit` reports it unscaled as `loss`)."""
        for name, value in components.items():
            self.trackers[name].update_state(value)
        return scale_loss_for_distribution(loss)

    def results(self) -> dict:
        return {m.name: m.result() for m in self.metrics}

    @property
    def metrics(self):
        fit_loss = [self._loss_tracker] if getattr(self, "_loss_tracker", None) else []
        return [*fit_loss, *self.trackers.values(), *self.accuracies.values()]

    def build_from_config(self, config):
        """Every sub-model is built in `__init__`: nothing left to build on load."""

    def load_weights(self, filepath, *args, **kwargs):
        """Keras' own; a `.weights.h5` saved before issue 16 (the backbone under
        `encoder/`, e.g. a backup of a run resumed across the upgrade) reads as well."""
        with upgraded_weights(filepath) as path:
            return super().load_weights(path, *args, **kwargs)


def weighted_mean(values, weights):
    """Mean of `values` weighted by `weights` (0 when all weights are 0)."""
    weights = ops.cast(weights, "float32")
    return ops.sum(values * weights) / ops.maximum(ops.sum(weights), 1.0)

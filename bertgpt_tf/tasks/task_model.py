"""OwnLoss: the mixin of task models that own their loss and metrics (keras-hub's task
models do the same), so `compile(optimizer)` is all a trainer writes."""

import keras


class OwnLoss:
    """`compile(optimizer, **kwargs)` with the model's `compile_defaults()` (loss,
    metrics) under `kwargs`; a saved model reloads compiled the same way, with its saved
    optimizer (Keras skips a custom `compile` on load and warns)."""

    def compile_defaults(self) -> dict:
        """{"loss": ..., "weighted_metrics": ..., ...}: keyword arguments of `compile`."""
        raise NotImplementedError

    def compile(self, optimizer="adamw", **kwargs):
        super().compile(optimizer=optimizer, **{**self.compile_defaults(), **kwargs})

    def compile_from_config(self, config: dict) -> None:
        config = keras.saving.deserialize_keras_object(config)
        kept = ("optimizer", "jit_compile", "steps_per_execution")
        self.compile(**{k: config[k] for k in kept if k in config})
        if self.built:
            self.optimizer.build(self.trainable_variables)

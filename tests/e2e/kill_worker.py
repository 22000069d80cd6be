"""Run in a subprocess: `run_train.py` whose process SIGKILLs itself after step N.

    python kill_worker.py <kill_at_step> <run_train flags...>

kill_at_step 0 = never. The kill is a real `kill -9`: no callback, no cleanup runs.
With `LOGICAL_CPUS=<n>` in the environment the CPU is split into n logical devices
first (MirroredStrategy over n replicas in one process).
"""

import os
import signal
import sys

import keras
from absl import app

import run_train
from bertgpt_tf.training.callbacks import global_step


class KillAt(keras.callbacks.Callback):
    def __init__(self, step: int):
        super().__init__()
        self.step = step

    def on_train_batch_end(self, batch, logs=None):
        if self.step and global_step(self.model) == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    kill_at = int(sys.argv.pop(1))
    if int(os.environ.get("LOGICAL_CPUS", "1")) > 1:
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        logical = [tf.config.LogicalDeviceConfiguration()] * int(os.environ["LOGICAL_CPUS"])
        tf.config.set_logical_device_configuration(cpu, logical)
    original_fit = keras.Model.fit

    def fit(self, *args, callbacks=None, **kwargs):
        return original_fit(
            self, *args, callbacks=list(callbacks or []) + [KillAt(kill_at)], **kwargs
        )

    keras.Model.fit = fit
    app.run(run_train.main)


if __name__ == "__main__":
    main()

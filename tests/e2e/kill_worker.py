"""Run in a subprocess: `run_train.py` whose process SIGKILLs itself after step N.

    python kill_worker.py <kill_at_step> <run_train flags...>

kill_at_step 0 = never. The kill is a real `kill -9`: no callback, no cleanup runs.
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
    original_fit = keras.Model.fit

    def fit(self, *args, callbacks=None, **kwargs):
        return original_fit(
            self, *args, callbacks=list(callbacks or []) + [KillAt(kill_at)], **kwargs
        )

    keras.Model.fit = fit
    app.run(run_train.main)


if __name__ == "__main__":
    main()

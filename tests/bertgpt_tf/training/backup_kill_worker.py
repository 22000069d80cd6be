"""Run in a subprocess: `fit` a tiny model with dropout for 9 steps in epochs of 3,
SIGKILLed (a real `kill -9`: no cleanup runs) at the second epoch's backup.

    python backup_kill_worker.py <run_dir> <mode>

mode "none": never killed; writes the final weights to `<run_dir>/final.npz`.
"torn": killed while the backup's weights file is half written (a kill, or a full
disk, mid-write). "before_metadata": killed after the weights file is complete,
before the backup's metadata is.
"""

import os
import signal
import sys

import keras
import numpy as np
import tensorflow as tf

from bertgpt_tf.training.fit import fit, make_strategy


def kill_at_second_backup(mode: str) -> None:
    original = keras.Model.save_weights
    backups = []

    def save_weights(self, filepath, *args, **kwargs):
        original(self, filepath, *args, **kwargs)
        if os.path.basename(os.path.dirname(os.path.abspath(filepath))) != "backup":
            return
        backups.append(filepath)
        if len(backups) == 2:
            if mode == "torn":
                with open(filepath, "r+b") as f:
                    f.truncate(os.path.getsize(filepath) // 2)
            os.kill(os.getpid(), signal.SIGKILL)

    keras.Model.save_weights = save_weights


def main(run_dir: str, mode: str) -> None:
    if mode != "none":
        kill_at_second_backup(mode)
    keras.utils.set_random_seed(0)
    with make_strategy().scope():
        model = keras.Sequential(
            [keras.Input((3,)), keras.layers.Dense(8), keras.layers.Dropout(0.5),
             keras.layers.Dense(1)]
        )  # fmt: skip
        model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x[:, :1] * 2)).batch(4).repeat()
    fit(model, data, None, run_dir, steps=9, steps_per_epoch=3, batch_size=4,
        tokens_per_example=1)  # fmt: skip
    np.savez(os.path.join(run_dir, "final.npz"), *model.get_weights())


if __name__ == "__main__":
    main(*sys.argv[1:])

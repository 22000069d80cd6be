"""Run in a subprocess, one per worker: Keras' own `fit` of a linear model under
MultiWorkerMirroredStrategy, with or without `bertgpt_tf.training.cluster`'s overrides.

    TF_CONFIG=... python multi_worker_fit.py <out.json> <upstream|overrides>

Writes the per-epoch losses and the final weights to <out.json>. Without TF_CONFIG,
"overrides" trains in one process (no strategy): the reference.
"""

import json
import sys

import numpy as np
import tensorflow as tf

from bertgpt_tf.training import cluster


def main(out: str, mode: str) -> None:
    if mode == "overrides":
        strategy = cluster.connect() or tf.distribute.get_strategy()
    else:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    import keras

    keras.utils.set_random_seed(0)
    x = np.random.RandomState(0).randn(64, 4).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).repeat().batch(16)
    with strategy.scope():
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
        model.compile(keras.optimizers.SGD(0.1), "mse")
    history = model.fit(dataset, epochs=5, steps_per_epoch=4, verbose=0)
    with open(out, "w") as f:
        json.dump({"loss": history.history["loss"], "kernel": model.get_weights()[0].tolist()}, f)


if __name__ == "__main__":
    main(*sys.argv[1:])

import keras
import numpy as np
import tensorflow as tf

from bertgpt_tf.training.fit import fit, make_strategy


def test_a_budget_that_is_not_whole_epochs_is_not_rounded_up(tmp_path):
    keras.utils.set_random_seed(0)
    with make_strategy().scope():  # as every task builds: iterations is a MirroredVariable
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(4).repeat()
    history, _ = fit(model, data, data, str(tmp_path), steps=7, steps_per_epoch=3,
                     batch_size=4, tokens_per_example=1, validation_steps=2)  # fmt: skip
    assert (
        int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 7
    )  # not 9 = 3 whole epochs
    assert len(history.history["loss"]) == len(history.history["val_loss"]) == 3

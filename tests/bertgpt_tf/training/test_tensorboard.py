"""What TensorBoard shows after a run: every scalar of the run in the event files once
it ends (epoch metrics, validation, batch loss, learning rate, tokens/s), keyed by epoch
or global step, for a bare `fit`, pretraining (mlm), fine-tuning (classify) and
translation."""

import glob
import json
import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.util import event_pb2

from bertgpt_tf.config import Config
from bertgpt_tf.training.fit import fit, make_strategy
from tests.translation_corpus import write_parallel_corpus

SIZES = dict(num_layers=1, num_heads=2, hidden_dim=32, intermediate_dim=64)


def read_scalars(folder: str) -> dict[str, dict[int, float]]:
    """{tag: {step: value}} over every event file in `folder`."""
    scalars = {}
    for path in glob.glob(os.path.join(folder, "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                number = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") else None
                scalars.setdefault(value.tag, {})[event.step] = number
    return scalars


def assert_run_logged(run_dir: str, history: dict, global_steps: list[int]) -> tuple:
    """Every `history` entry ({name: per-epoch values, or None: any}) once per epoch as
    `epoch_<name>` under train/ (`val_<name>`: under validation/); the batch-level loss,
    learning rate and tokens/s at each epoch's last global step. Returns both folders'
    {tag: {step: value}}."""
    train = read_scalars(os.path.join(run_dir, "logs", "train"))
    validation = read_scalars(os.path.join(run_dir, "logs", "validation"))
    epochs = list(range(len(global_steps)))
    for name, values in history.items():
        logged = validation if name.startswith("val_") else train
        tag = "epoch_" + name.removeprefix("val_")
        assert sorted(logged.get(tag, {})) == epochs, (tag, sorted(train), sorted(validation))
        if values is not None:
            np.testing.assert_allclose([logged[tag][e] for e in epochs], values, rtol=1e-5)
    for tag in ("batch_loss", "learning_rate", "tokens_per_second"):
        assert sorted(train.get(tag, {})) == global_steps, (tag, train.get(tag))
    assert all(v > 0 for v in train["tokens_per_second"].values())
    assert sorted(validation["evaluation_loss_vs_iterations"]) == global_steps
    return train, validation


def test_fit_writes_every_scalar_of_a_short_run(tmp_path):
    keras.utils.set_random_seed(0)
    with make_strategy().scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(4).repeat()
    # 7 steps in epochs of 3: neither an epoch nor the run ends on a multiple of log_every
    history, _ = fit(model, data, data, str(tmp_path), steps=7, steps_per_epoch=3,
                     batch_size=4, tokens_per_example=10, validation_steps=2)  # fmt: skip
    train, _ = assert_run_logged(str(tmp_path), history.history, [3, 6, 7])
    assert set(train["epoch_learning_rate"]) == {0, 1, 2}
    np.testing.assert_allclose(train["batch_loss"][7], history.history["loss"][-1], rtol=1e-5)


def test_progress_lines_show_an_eta_and_read_the_step_once(tmp_path, monkeypatch, caplog):
    """Each progress line shows the metrics and ends with the ETA of the step budget
    (0 at the end); the
    optimizer step is read from the device once per process, at the start, then counted
    (a read per batch would sync host and device every step)."""
    from bertgpt_tf.training import callbacks

    reads = []
    real_global_step = callbacks.global_step
    monkeypatch.setattr(callbacks, "global_step", lambda m: reads.append(1) or real_global_step(m))
    keras.utils.set_random_seed(0)
    with make_strategy().scope():
        model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, x[:, :1])).batch(4).repeat()
    with caplog.at_level("INFO", logger="absl"):
        fit(model, data, None, str(tmp_path), steps=12, steps_per_epoch=6, batch_size=4,
            tokens_per_example=10, log_every=4, checkpoint_every=5)  # fmt: skip
    lines = [r.getMessage() for r in caplog.records if "tokens/s" in r.getMessage()]
    assert [line.split()[1] for line in lines] == ["4", "6", "10", "12"]
    assert all("ETA " in line for line in lines) and lines[-1].endswith("ETA 0m00s")
    assert all(re.search(r"  mae \d+\.\d{4}  lr ", line) for line in lines)  # metrics too
    assert int(model.optimizer.iterations.numpy()) == 12
    assert len(reads) <= 3  # monitor, step checkpoint, step budget: at train begin only
    assert sorted(os.listdir(tmp_path / "checkpoints")) == [
        "step-00000005.weights.h5", "step-00000010.weights.h5"
    ]  # fmt: skip


def test_tokens_per_second_count_real_tokens_not_padding(tmp_path, caplog):
    """Rows of 8 positions holding 2, 4 or 6 real tokens (half of them, on average):
    tokens/s is the real count, half the padded one, in the lines, in TensorBoard and
    in the run's mean."""
    inputs = keras.Input((8,), dtype="int32", name="padding_mask")
    outputs = keras.layers.Dense(1)(keras.ops.cast(inputs, "float32"))
    model = keras.Model({"padding_mask": inputs}, outputs)
    model.compile(optimizer="sgd", loss="mse")
    lengths = np.tile([2, 4, 6], 40)  # every batch of 6 rows: 24 of 48 tokens
    mask = (np.arange(8)[None, :] < lengths[:, None]).astype("int32")
    data = tf.data.Dataset.from_tensor_slices(({"padding_mask": mask}, lengths[:, None] * 0.0))
    data = data.batch(6).repeat()
    with caplog.at_level("INFO", logger="absl"):
        _, monitor = fit(model, data, None, str(tmp_path), steps=12, steps_per_epoch=6,
                         batch_size=6, tokens_per_example=8, log_every=3)  # fmt: skip
    lines = [r.getMessage() for r in caplog.records if "tokens/s" in r.getMessage()]
    assert lines and all("(50 % of " in line for line in lines), lines
    train = read_scalars(str(tmp_path / "logs" / "train"))
    for step, real in train["tokens_per_second"].items():
        assert real == pytest.approx(train["padded_tokens_per_second"][step] / 2, rel=1e-5)
    # the run's mean: 12 steps of 24 real tokens over the seconds trained
    assert monitor.mean_tokens_per_second() * monitor.total_seconds == pytest.approx(12 * 24)


def test_mlm_pretraining_run_logs_its_scalars(tiny_corpus, tiny_vocabulary, tmp_path):
    from bertgpt_tf.training.pretrain import prepare_pretraining, pretrain
    from pipelines.task_data import pretraining_inputs

    config = Config.from_preset(
        "tiny", task="mlm", recipe="bert", train_data=os.path.dirname(tiny_corpus[0]),
        vocabulary=tiny_vocabulary, model_dir=str(tmp_path / "run"), batch_size=8,
        sequence_length=32, max_predictions_per_seq=5, steps=4, steps_per_epoch=2,
        validation_steps=1, validation_fraction=0.1, warmup_steps=2, checkpoint_every=0,
        shuffle_buffer=50, **SIZES,
    )  # fmt: skip
    config = prepare_pretraining(config)
    config, results = pretrain(config, pretraining_inputs(config))
    assert results["steps"] == 4
    train, _ = assert_run_logged(config.train.model_dir, results["history"], [2, 4])
    assert {"epoch_loss", "epoch_mlm_accuracy", "batch_mlm_accuracy"} <= set(train), sorted(train)


def test_classify_run_logs_its_scalars(tmp_path):
    from bertgpt_tf.training.finetune import run_finetuning
    from pipelines.task_data import finetune_inputs
    from tests.conftest import classify_config, write_sentiment_file

    data = write_sentiment_file(tmp_path / "sentiment.tsv", 160)  # 128 train: 8 steps of 16
    config = classify_config(tmp_path, "run", train_data=data, epochs=1, steps_per_epoch=4)
    run_finetuning(config, finetune_inputs, str(tmp_path / "saved_models"))
    names = ("loss", "accuracy", "learning_rate", "val_loss", "val_accuracy")
    _, validation = assert_run_logged(str(tmp_path / "run"), dict.fromkeys(names), [4, 8])
    with open(tmp_path / "run" / "eval.json") as f:
        best = json.load(f)["validation"]  # the best epoch's validation accuracy
    assert max(validation["epoch_accuracy"].values()) == pytest.approx(best)


def test_translate_run_logs_its_scalars(tmp_path):
    from bertgpt_tf.training.translate import run_translation
    from pipelines.task_data import translation_inputs

    folder = str(tmp_path / "multi30k")
    write_parallel_corpus(folder)
    config = Config.from_preset(
        "tiny", task="translate", train_data=folder, model_dir=str(tmp_path / "run"),
        vocabulary_size_target=340, sequence_length=16, batch_size=16, steps=6,
        steps_per_epoch=3, validation_steps=2, warmup_steps=2, checkpoint_every=0,
        beam_size=1, **SIZES,
    )  # fmt: skip
    run_translation(config, translation_inputs, str(tmp_path / "saved"))
    names = ("loss", "accuracy", "learning_rate", "val_loss", "val_accuracy")
    assert_run_logged(str(tmp_path / "run"), dict.fromkeys(names), [3, 6])

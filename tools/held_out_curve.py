"""A pretraining run's held-out curve against wall time, from its TensorBoard logs:

    python -m tools.held_out_curve runs/mlm-budget [--at=20,60] [--metric=epoch_accuracy]

Prints one row per validation (minutes since training began, global step, the metric),
then the last validation at or before each of the `--at` minutes: "held-out MLM
accuracy after 20 minutes" read the same way for every run. Minutes count from the
moment `fit` began (the training log's first event: after the vocabulary and the
tf.data setup, before the first step's tracing).
"""

import glob
import os

import tensorflow as tf
from absl import app, flags
from tensorflow.core.util import event_pb2

from bertgpt_tf.config import Config

flags.DEFINE_string("at", "20,60", "minutes to read the curve at")
flags.DEFINE_string("metric", "epoch_accuracy", "validation scalar (MLM: epoch_accuracy)")
FLAGS = flags.FLAGS


def scalars(folder: str, tag: str) -> list[tuple[float, int, float]]:
    """(wall time, step, value) of `tag` in every event file of `folder`, by time."""
    rows = []
    for path in glob.glob(os.path.join(folder, "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = event_pb2.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.tag == tag and value.HasField("tensor"):
                    rows.append((event.wall_time, event.step, float(tf.make_ndarray(value.tensor))))
    return sorted(rows)


def first_event_time(folder: str) -> float:
    """Wall time of the first event in `folder`: its writer's creation, as fit starts."""
    times = [
        event_pb2.Event.FromString(record.numpy()).wall_time
        for path in glob.glob(os.path.join(folder, "events.out.tfevents.*"))
        for record in tf.data.TFRecordDataset(path).take(1)
    ]
    return min(times)


def curve(run_dir: str, metric: str) -> list[tuple[float, int, float]]:
    """(minutes since training began, global step, value) of each validation (logged
    per epoch: the step is the epoch's last)."""
    every = Config.from_json(os.path.join(run_dir, "config.json")).train.steps_per_epoch
    logs = os.path.join(run_dir, "logs")
    start = first_event_time(os.path.join(logs, "train"))
    validations = scalars(os.path.join(logs, "validation"), metric)
    return [((t - start) / 60, (epoch + 1) * every, v) for t, epoch, v in validations]


def main(argv):
    for run_dir in argv[1:]:
        rows = curve(run_dir, FLAGS.metric)
        print(f"{run_dir}: validation {FLAGS.metric}")
        print("| minutes | step | value |\n|---|---|---|")
        for minutes, step, value in rows:
            print(f"| {minutes:.1f} | {step} | {value:.4f} |")
        for at in (float(m) for m in FLAGS.at.split(",")):
            seen = [r for r in rows if r[0] <= at]
            if seen:
                minutes, step, value = seen[-1]
                print(f"at {at:g} min: {value:.4f} (step {step}, {minutes:.1f} min)")


if __name__ == "__main__":
    app.run(main)

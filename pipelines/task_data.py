"""Training and validation datasets of a pretraining task, from the run config."""

import time

import tensorflow as tf
from absl import logging

from bertgpt_tf.config import ENCODER_PRETRAINING, Config
from pipelines.clm_dataset import make_clm_dataset
from pipelines.mlm_dataset import make_mlm_dataset
from pipelines.sanitize import LineStats


def make_datasets(
    config: Config, files: list[str], tokenizer, stats: LineStats | None = None, repeat=True
) -> tuple[tf.data.Dataset, tf.data.Dataset | None, int]:
    """(train, validation, validation_steps). Validation is `validation_steps` fixed
    batches (same examples and masks every time), repeated because Keras keeps one
    validation iterator across epochs; None when no held-out text gives a batch."""
    d, t = config.data, config.train
    common = dict(
        tokenizer=tokenizer,
        batch_size=t.batch_size,
        sequence_length=d.sequence_length,
        validation_fraction=d.validation_fraction,
        shuffle_buffer=d.shuffle_buffer,
        max_line_bytes=d.max_line_bytes,
        seed=t.seed,
    )
    if t.task in ENCODER_PRETRAINING:
        task_args = dict(
            max_predictions_per_seq=d.max_predictions_per_seq,
            mask_rate=d.mask_rate,
            pair_objective=d.pair_objective,
            whole_word_masking=d.whole_word_masking,
        )
        make = make_mlm_dataset
    else:
        task_args = dict(holdout=d.holdout)
        make = make_clm_dataset
    train = make(files, split="train", stats=stats, repeat=repeat, **common, **task_args)
    if not t.validation_steps:
        return train, None, 0
    validation = make(files, split="validation", **common, **task_args)
    validation = validation.take(t.validation_steps).cache()
    steps = sum(1 for _ in validation)  # also fills the cache
    if steps < t.validation_steps:
        hint = "" if steps else ": raise --validation_fraction"
        logging.warning(
            "held-out text gives %d of %d validation batches%s", steps, t.validation_steps, hint
        )
    return train, (validation.repeat() if steps else None), steps


def count_batches(dataset: tf.data.Dataset, log_every_seconds: float = 10.0) -> int:
    """Batches in one pass of a finite dataset (for `--epochs`), logging progress."""
    count, last = 0, time.monotonic()
    for _ in dataset:
        count += 1
        if time.monotonic() - last > log_every_seconds:
            logging.info("counting batches per epoch: %d so far", count)
            last = time.monotonic()
    return count

"""tf.data for fine-tuning: labelled texts -> (encoder inputs, label[, weight]) batches,
tokenized and packed in the graph by the same `encode_texts` the exports run."""

import numpy as np
import tensorflow as tf

from bertgpt_tf.tokenizers.segment_packer import encode_texts
from pipelines.task_files import LabeledTexts, TaskData, label_array


def inverse_frequency_weights(train_ids: np.ndarray, num_classes: int) -> np.ndarray:
    """n / (k * count_c): each class contributes equally to the loss."""
    counts = np.bincount(train_ids, minlength=num_classes).astype(np.float64)
    return (len(train_ids) / (num_classes * np.maximum(counts, 1))).astype(np.float32)


def make_finetune_dataset(
    data: LabeledTexts,
    tokenizer,
    sequence_length: int,
    batch_size: int,
    labels: list[str] | None,
    training: bool,
    seed: int = 0,
    class_weights: np.ndarray | None = None,
) -> tf.data.Dataset:
    """Training: shuffled, repeated, full static batches. Evaluation: one ordered pass."""
    targets = label_array(data, labels)
    features = {"text": np.asarray(data.texts, object)}
    if data.texts_b is not None:
        features["text_b"] = np.asarray(data.texts_b, object)
    elements = (features, targets)
    if class_weights is not None:
        elements = (features, targets, class_weights[targets])
    dataset = tf.data.Dataset.from_tensor_slices(elements)
    if training:
        dataset = dataset.shuffle(len(data), seed=seed, reshuffle_each_iteration=True).repeat()
    dataset = dataset.batch(batch_size, drop_remainder=training)

    def encode(features, *rest):
        inputs = encode_texts(
            tokenizer, features["text"], features.get("text_b"), sequence_length, static=True
        )
        if labels is None:  # regression: (batch, 1) like the model's output
            rest = (rest[0][:, None], *rest[1:])
        return (inputs, *rest)

    return dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def finetune_datasets(
    data: TaskData,
    tokenizer,
    sequence_length: int,
    batch_size: int,
    seed: int = 0,
    class_weights: bool = False,
) -> dict[str, tf.data.Dataset]:
    """{"train": shuffled and repeated (with inverse-frequency sample weights if
    `class_weights`), "validation"/"test": one ordered pass}."""
    weights = None
    if class_weights and data.labels:
        train_ids = label_array(data.splits["train"], data.labels)
        weights = inverse_frequency_weights(train_ids, len(data.labels))
    return {
        split: make_finetune_dataset(
            examples,
            tokenizer,
            sequence_length,
            batch_size,
            data.labels,
            training=split == "train",
            seed=seed,
            class_weights=weights if split == "train" else None,
        )  # fmt: skip
        for split, examples in data.splits.items()
    }

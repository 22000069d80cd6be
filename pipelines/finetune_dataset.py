"""tf.data for fine-tuning: labelled texts -> (encoder inputs, label[, weight]) batches,
tokenized and packed in the graph by the same `encode_texts` the exports run."""

import numpy as np
import tensorflow as tf

from bertgpt_tf.tasks.sentence_embedder import SIDES
from bertgpt_tf.tokenizers.segment_packer import encode_texts, encode_words
from pipelines.length_buckets import bucket_by_length
from pipelines.shuffle import shuffled_epochs
from pipelines.task_files import (
    DataError,
    LabeledTexts,
    TaggedSentences,
    TaskData,
    label_array,
)

# Training batches are sorted by length within windows of this many batches.
BUCKET_WINDOW = 16


def _batched(dataset, batch_size: int, training: bool, ragged: bool = False):
    """Training: windows of `BUCKET_WINDOW` batches (split by `_finish`); else batches."""
    size = batch_size * (BUCKET_WINDOW if training else 1)
    if ragged:
        return dataset.ragged_batch(size, drop_remainder=training)
    return dataset.batch(size, drop_remainder=training)


def _finish(dataset, sequence_length: int, training: bool, seed: int):
    """Encoded windows -> length-bucketed training batches; evaluation unchanged."""
    if training:
        dataset = bucket_by_length(dataset, sequence_length, BUCKET_WINDOW, seed=seed)
    return dataset.prefetch(tf.data.AUTOTUNE)


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
    """Training: shuffled, repeated, length-bucketed full batches (`bucket_by_length`).
    Evaluation: one ordered pass of static batches."""
    targets = label_array(data, labels)
    features = {"text": np.asarray(data.texts, object)}
    if data.texts_b is not None:
        features["text_b"] = np.asarray(data.texts_b, object)
    elements = (features, targets)
    if class_weights is not None:
        elements = (features, targets, class_weights[targets])
    if training:
        dataset = shuffled_epochs(elements, len(data), seed)
    else:
        dataset = tf.data.Dataset.from_tensor_slices(elements)
    dataset = _batched(dataset, batch_size, training)

    def encode(features, *rest):
        inputs = encode_texts(
            tokenizer, features["text"], features.get("text_b"), sequence_length, static=True
        )
        if labels is None:  # regression: (batch, 1) like the model's output
            rest = (rest[0][:, None], *rest[1:])
        return (inputs, *rest)

    dataset = dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE)
    return _finish(dataset, sequence_length, training, seed)


def make_embed_dataset(
    data: LabeledTexts,
    tokenizer,
    sequence_length: int,
    batch_size: int,
    score_scale: float,
    training: bool,
    seed: int = 0,
) -> tf.data.Dataset:
    """(inputs, score / score_scale) batches for the siamese model: each text encoded
    on its own (`[CLS] text [SEP]`), keyed `<input>_a` for `text`, `<input>_b` for
    `text_b`."""
    if data.texts_b is None:
        raise DataError("embed trains on sentence pairs: give --text_b_column")
    targets = label_array(data, None) / np.float32(score_scale)
    features = (np.asarray(data.texts, object), np.asarray(data.texts_b, object))
    if training:
        dataset = shuffled_epochs((features, targets), len(data), seed)
    else:
        dataset = tf.data.Dataset.from_tensor_slices((features, targets))
    dataset = _batched(dataset, batch_size, training)

    def encode(texts, target):
        inputs = {}
        for side, text in zip(SIDES, texts, strict=True):
            encoded = encode_texts(tokenizer, text, None, sequence_length, static=True)
            inputs.update({f"{name}_{side}": value for name, value in encoded.items()})
        return inputs, target[:, None]

    dataset = dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE)
    return _finish(dataset, sequence_length, training, seed)


def word_targets(first: tf.RaggedTensor, tag_ids: tf.RaggedTensor, sequence_length: int):
    """Tag ids at each word's first piece, (batch, sequence_length) int32, and weights
    1.0 there, 0.0 elsewhere (other pieces, special tokens, padding, cut-off words)."""
    keep = first.flat_values >= 0
    rows = tf.boolean_mask(first.value_rowids(), keep)
    columns = tf.cast(tf.boolean_mask(first.flat_values, keep), tf.int64)
    indices = tf.stack([rows, columns], axis=1)
    shape = tf.stack([first.nrows(), tf.constant(sequence_length, tf.int64)])
    labels = tf.scatter_nd(indices, tf.boolean_mask(tag_ids.flat_values, keep), shape)
    weights = tf.scatter_nd(indices, tf.ones_like(columns, tf.float32), shape)
    return labels, weights


def make_ner_dataset(
    data: TaggedSentences,
    tokenizer,
    sequence_length: int,
    batch_size: int,
    labels: list[str],
    training: bool,
    seed: int = 0,
) -> tf.data.Dataset:
    """(encoder inputs, tag ids, weights) batches; tags label each word's first piece."""
    index = {tag: i for i, tag in enumerate(labels)}
    words = tf.ragged.constant(data.words, dtype=tf.string)
    tag_ids = tf.ragged.constant([[index[t] for t in s] for s in data.tags], dtype=tf.int32)
    if training:
        dataset = shuffled_epochs((words, tag_ids), len(data), seed)
    else:
        dataset = tf.data.Dataset.from_tensor_slices((words, tag_ids))
    dataset = _batched(dataset, batch_size, training, ragged=True)

    def encode(words, tag_ids):
        inputs, first = encode_words(tokenizer, words, sequence_length, static=True)
        return (inputs, *word_targets(first, tag_ids, sequence_length))

    dataset = dataset.map(encode, num_parallel_calls=tf.data.AUTOTUNE)
    return _finish(dataset, sequence_length, training, seed)


def finetune_datasets(
    data: TaskData,
    tokenizer,
    sequence_length: int,
    batch_size: int,
    seed: int = 0,
    class_weights: bool = False,
    task: str = "",
) -> dict[str, tf.data.Dataset]:
    """{"train": shuffled and repeated (with inverse-frequency sample weights if
    `class_weights`), "validation"/"test": one ordered pass}. `task="embed"`: siamese
    pairs with scores divided by `embed_score_scale(data)`."""
    weights = None
    if class_weights and data.labels:
        train_ids = label_array(data.splits["train"], data.labels)
        weights = inverse_frequency_weights(train_ids, len(data.labels))
    datasets = {}
    scale = embed_score_scale(data) if task == "embed" else None
    for split, examples in data.splits.items():
        training = split == "train"
        if task == "embed":
            datasets[split] = make_embed_dataset(
                examples, tokenizer, sequence_length, batch_size, scale,
                training, seed,
            )  # fmt: skip
        elif isinstance(examples, TaggedSentences):
            datasets[split] = make_ner_dataset(
                examples, tokenizer, sequence_length, batch_size, data.labels, training, seed
            )
        else:
            datasets[split] = make_finetune_dataset(
                examples, tokenizer, sequence_length, batch_size, data.labels, training, seed,
                class_weights=weights if training else None,
            )  # fmt: skip
    return datasets


def embed_score_scale(data: TaskData) -> float:
    """The largest |score| in training: gold similarities become <= 1, comparable with
    a cosine (STS-B's 0-5 -> 0-1, as Sentence-BERT trains)."""
    scale = float(np.max(np.abs(label_array(data.splits["train"], None))))
    if scale == 0:
        raise DataError("embed: every training score is 0")
    return scale

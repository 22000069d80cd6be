"""Parallel text (Multi30k layout) -> tokenized, packed, batched translation examples.

A dataset folder holds line-aligned, UTF-8 (optionally gzipped) files
`<split>.<language>[.gz]`, one sentence per line: line i of `train.en.gz` translates
line i of `train.de.gz`. Multi30k's splits are `train`, `val` and `test_2016_flickr`.

Example:
>>> sources, targets = read_parallel("data/train.en.gz", "data/train.de.gz")  # doctest: +SKIP
"""

import functools
import gzip
import os

import numpy as np
import tensorflow as tf

from bertgpt_tf.tokenizers.seq2seq_packing import pack_source, pack_target
from pipelines.shuffle import shuffled_epochs
from pipelines.sources import resolve_data_dir

DEFAULT_DATASET = "multi30k"
SPLITS = {"train": "train", "validation": "val", "test": "test_2016_flickr"}


def dataset_folder(train_data: str = "", data_dir: str = "", dataset: str = "") -> str:
    """`train_data` (a folder in the layout above), else `<data dir>/<dataset>`."""
    folder = train_data or os.path.join(resolve_data_dir(data_dir), dataset or DEFAULT_DATASET)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"translation data folder not found: {folder}")
    return folder


def split_files(folder: str, split: str, source_language: str, target_language: str):
    """(source path, target path) of `split` ("train" | "validation" | "test")."""
    paths = []
    for language in (source_language, target_language):
        stem = os.path.join(folder, f"{SPLITS[split]}.{language}")
        found = [p for p in (stem + ".gz", stem) if os.path.isfile(p)]
        if not found:
            raise FileNotFoundError(f"missing translation file: {stem}.gz (or {stem})")
        paths.append(found[0])
    return tuple(paths)


def read_lines(path: str) -> list[str]:
    """The lines of a UTF-8 (optionally gzipped) file, without line ends."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="\n") as f:
            return [line.rstrip("\r\n") for line in f]
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read {path}: {e}") from None


def read_parallel(source_path: str, target_path: str) -> tuple[list[str], list[str]]:
    """Line-aligned (sources, targets); pairs with an empty side are dropped.

    Raises:
        ValueError: the files have different line counts (or cannot be read).
    """
    sources, targets = read_lines(source_path), read_lines(target_path)
    if len(sources) != len(targets):
        raise ValueError(
            f"{source_path} has {len(sources)} lines but {target_path} has {len(targets)} lines: "
            "parallel files must be line-aligned"
        )
    pairs = [(s, t) for s, t in zip(sources, targets, strict=True) if s.strip() and t.strip()]
    if not pairs:
        raise ValueError(f"no sentence pairs in {source_path} / {target_path}")
    return [s for s, _ in pairs], [t for _, t in pairs]


def bucket_lengths(sequence_length: int) -> tuple[int, ...]:
    """Padded lengths of the length buckets: 1/3, 1/2, 2/3 and all of `sequence_length`
    (48 -> 16, 24, 32, 48)."""
    fractions = (sequence_length // 3, sequence_length // 2, 2 * sequence_length // 3)
    return tuple(sorted({n for n in fractions if n >= 4} | {sequence_length}))


def _buckets(sources, targets, source_tokenizer, target_tokenizer, sequence_length) -> dict:
    """{padded length: (sources, targets)}: each pair in the shortest bucket that holds
    both sides with their end token (the longest bucket truncates)."""
    lengths = [
        tokenizer.tokenize(tf.constant(texts)).row_lengths().numpy()
        for tokenizer, texts in ((source_tokenizer, sources), (target_tokenizer, targets))
    ]
    needed = np.maximum(*lengths) + 1  # (pairs,) the end token
    bounds = bucket_lengths(sequence_length)
    which = np.minimum(np.searchsorted(bounds, needed), len(bounds) - 1)
    buckets = {}
    for b, length in enumerate(bounds):
        index = np.flatnonzero(which == b)
        if len(index):
            buckets[length] = ([sources[i] for i in index], [targets[i] for i in index])
    return buckets


def make_translation_dataset(
    sources: list[str],
    targets: list[str],
    source_tokenizer,
    target_tokenizer,
    sequence_length: int,
    batch_size: int,
    shuffle_seed: int | None = None,
    repeat: bool = False,
) -> tf.data.Dataset:
    """Batches of (inputs dict, labels, label weights): `encoder_token_ids`,
    `encoder_padding_mask`, `decoder_token_ids`, `decoder_padding_mask` (see
    `bertgpt_tf.tokenizers.seq2seq_packing`), every tensor (batch_size, length).

    Pairs are grouped by length into `bucket_lengths(sequence_length)` buckets, each
    padded to its own static length (Multi30k captions average ~15 tokens, so padding
    everything to 48 would triple the work). Tokenized in the graph, a batch at a time;
    each bucket drops its last partial batch. `shuffle_seed`: pairs are shuffled within
    buckets (anew each repetition) and batches drawn from the buckets at random in
    proportion to their size; else buckets follow each other, shortest first.
    """
    datasets, weights = [], []
    buckets = _buckets(sources, targets, source_tokenizer, target_tokenizer, sequence_length)
    for length, (bucket_sources, bucket_targets) in buckets.items():
        if len(bucket_sources) < batch_size:
            continue
        pairs = (np.asarray(bucket_sources, object), np.asarray(bucket_targets, object))
        dataset = tf.data.Dataset.from_tensor_slices(pairs)
        if shuffle_seed is not None and repeat:  # each epoch its order, every iterator alike
            dataset = shuffled_epochs(pairs, len(bucket_sources), shuffle_seed + length)
        elif shuffle_seed is not None:
            dataset = dataset.shuffle(
                len(bucket_sources), seed=shuffle_seed + length, reshuffle_each_iteration=False
            )
        elif repeat:
            dataset = dataset.repeat()
        dataset = dataset.batch(batch_size, drop_remainder=True)
        pack = functools.partial(_tokenize_and_pack, source_tokenizer, target_tokenizer, length)
        datasets.append(dataset.map(pack, num_parallel_calls=tf.data.AUTOTUNE))
        weights.append(len(bucket_sources))
    if not datasets:
        raise ValueError(f"fewer than batch_size={batch_size} sentence pairs")
    if shuffle_seed is None:
        dataset = functools.reduce(tf.data.Dataset.concatenate, datasets)
    else:
        weights = [w / sum(weights) for w in weights]
        dataset = tf.data.Dataset.sample_from_datasets(datasets, weights, seed=shuffle_seed)
    return dataset.prefetch(2)


def _tokenize_and_pack(source_tokenizer, target_tokenizer, length: int, source, target):
    """(batch,) source and target strings -> (inputs, labels, weights), (batch, length)."""
    inputs = pack_source(
        source_tokenizer.tokenize(source), source_tokenizer.end_id, source_tokenizer.pad_id,
        length,
    )  # fmt: skip
    decoder_inputs, labels, weights = pack_target(
        target_tokenizer.tokenize(target), target_tokenizer.end_id, target_tokenizer.pad_id,
        length,
    )  # fmt: skip
    return {**inputs, **decoder_inputs}, labels, weights

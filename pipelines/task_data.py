"""A task's inputs (`bertgpt_tf.training.task_inputs.TaskInputs`) from the config: its
text -> vocabulary (given, or trained into the run dir) -> tokenizer -> training,
validation (and test) `tf.data`.

`run_train.py` hands these to the library's `run_pretraining` / `run_finetuning` /
`run_translation`, which call them after their own preparation (seed, run dir, the
`--init_from` / `--teacher` run), so the library never imports `pipelines`.
"""

import os
import time

import tensorflow as tf
from absl import logging

from bertgpt_tf.config import ENCODER_PRETRAINING, Config
from bertgpt_tf.tokenizers.load_tokenizer import load_tokenizer, load_tokenizer_pair
from bertgpt_tf.training.task_inputs import TaskInputs
from pipelines.clm_dataset import make_clm_dataset
from pipelines.mlm_dataset import make_mlm_dataset
from pipelines.sanitize import LineStats
from pipelines.sources import (
    empty_reason,
    name_files,
    read_paragraphs,
    resolve_text_files,
    warn_invalid_utf8,
)
from pipelines.vocabulary import ensure_vocabulary


def pretraining_vocabulary(config: Config, files: list[str] | None = None) -> str:
    """The run's vocabulary file: `--vocabulary` copied into the run dir, the one already
    there, or one trained on the corpus (`files`, default: the config's)."""
    d = config.data
    files = files or resolve_text_files(d.train_data, d.data_dir)
    warn_invalid_utf8(files)  # before the vocabulary learns U+FFFD
    return ensure_vocabulary(
        config.train.model_dir, files, config.tokenizer_kind, d.vocabulary,
        d.vocabulary_size_target, d.vocabulary_max_bytes, d.lower_case,
        d.validation_fraction, masked_lm=config.train.task in ENCODER_PRETRAINING,
    )  # fmt: skip


def pretraining_inputs(config: Config, stats: LineStats | None = None) -> TaskInputs:
    """The inputs of `--task=mlm|electra|distill|clm`: the corpus -> its vocabulary ->
    tokenizer -> training and validation batches; with `--epochs`, the batches of one
    pass counted. `stats` (default: a new one) counts the lines skipped or cut."""
    files = resolve_text_files(config.data.train_data, config.data.data_dir)
    vocabulary = pretraining_vocabulary(config, files)
    tokenizer = load_tokenizer(
        config.tokenizer_kind, vocabulary, config.data.lower_case,
        normalization=config.data.normalization,
    )  # fmt: skip
    require_training_batch(config, files, tokenizer)
    one_pass = 0
    if config.train.epochs:  # passes over the data -> a step budget (fit.run_config)
        one_pass = count_batches(make_datasets(config, files, tokenizer, repeat=False)[0])
    stats = stats or LineStats()
    train, validation, validation_steps = make_datasets(config, files, tokenizer, stats)
    return TaskInputs(
        tokenizer, train, validation, validation_steps, config.data.sequence_length,
        batches_per_pass=one_pass, line_stats=stats,
        derived=dict(vocabulary=vocabulary, vocabulary_size=tokenizer.vocabulary_size),
    )  # fmt: skip


def require_training_batch(config: Config, files: list[str], tokenizer) -> None:
    """Raises ValueError, naming `files` and why, when one pass over their training
    text gives no batch (so the endless training dataset would give none either)."""
    one_pass = _make_dataset(config, files, tokenizer, "train", repeat=False, shuffle_buffer=1)
    if next(iter(one_pass.take(1)), None) is not None:
        return
    d, t = config.data, config.train
    paragraphs = read_paragraphs(files, "train", d.validation_fraction, d.max_line_bytes)
    count = paragraphs.reduce(
        (0, 0), lambda n, e: (n[0] + 1, n[1] + tf.cast(e["previous"] != "", tf.int32))
    )
    count, with_previous = (int(x) for x in count)
    pairs = t.task in ENCODER_PRETRAINING and d.pair_objective != "none"
    if not count:
        why = empty_reason(files, d.validation_fraction)
    elif pairs and not with_previous:
        why = (
            f"--pair_objective={d.pair_objective} pairs consecutive paragraphs, and each of "
            f"the {count} training documents has one (a blank line ends a document); "
            "use --pair_objective=none"
        )
    else:
        why = (
            f"{count} training paragraphs are too little text for one batch of "
            f"--batch_size={t.batch_size} (--sequence_length={d.sequence_length})"
        )
    raise ValueError(f"no training batch from {name_files(files)}: {why}")


def _make_dataset(config: Config, files: list[str], tokenizer, split: str, **overrides):
    """`make_mlm_dataset` or `make_clm_dataset` of `split` with the config's arguments."""
    d, t = config.data, config.train
    kwargs = dict(
        tokenizer=tokenizer,
        batch_size=t.batch_size,
        sequence_length=d.sequence_length,
        validation_fraction=d.validation_fraction,
        shuffle_buffer=d.shuffle_buffer,
        max_line_bytes=d.max_line_bytes,
        seed=t.seed,
    )
    if t.task in ENCODER_PRETRAINING:
        kwargs.update(
            max_predictions_per_seq=d.max_predictions_per_seq,
            mask_rate=d.mask_rate,
            pair_objective=d.pair_objective,
            whole_word_masking=d.whole_word_masking,
        )
        make = make_mlm_dataset
    else:
        kwargs.update(holdout=d.holdout)
        make = make_clm_dataset
    return make(files, split=split, **{**kwargs, **overrides})


def make_datasets(
    config: Config, files: list[str], tokenizer, stats: LineStats | None = None, repeat=True
) -> tuple[tf.data.Dataset, tf.data.Dataset | None, int]:
    """(train, validation, validation_steps). Validation is `validation_steps` fixed
    batches (same examples and masks every time), repeated because Keras keeps one
    validation iterator across epochs; None when no held-out text gives a batch."""
    t = config.train
    train = _make_dataset(config, files, tokenizer, "train", stats=stats, repeat=repeat)
    if not t.validation_steps:
        return train, None, 0
    validation = _make_dataset(config, files, tokenizer, "validation")
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


def finetune_inputs(config: Config) -> TaskInputs:
    """The inputs of `--task=classify|regress|ner|embed`: the splits -> vocabulary (the
    config's, e.g. the --init_from run's, or trained on the training texts into the run
    dir) -> tokenizer -> training batches (repeated), a validation and a test pass.
    Training texts the vocabulary mostly cannot spell (more `[UNK]` pieces than
    `--max_unknown_share`) are refused before anything trains."""
    from pipelines.finetune_dataset import finetune_datasets
    from pipelines.task_files import DEFAULT_DATASET, load_ner_data, load_task_data
    from pipelines.unknown_text import require_known_text
    from pipelines.vocabulary import vocabulary_from_texts

    d, t = config.data, config.train
    if t.task == "ner":
        data = load_ner_data(d.train_data, d.data_dir, t.seed)
        texts = [" ".join(words) for words in data.splits["train"].words]
    else:
        data = load_task_data(
            t.task, d.dataset, d.train_data, d.data_dir, d.text_column, d.text_b_column,
            d.label_column, t.seed,
        )  # fmt: skip
        texts = data.splits["train"].texts + (data.splits["train"].texts_b or [])
    vocabulary = d.vocabulary or vocabulary_from_texts(
        t.model_dir, texts, d.vocabulary_size_target, d.lower_case
    )
    tokenizer = load_tokenizer(
        config.tokenizer_kind, vocabulary, d.lower_case, normalization=d.normalization
    )
    # a finished run (eval.json: --task=evaluate's re-test) is measured, not refused
    finished = os.path.exists(os.path.join(t.model_dir, "eval.json"))
    require_known_text(
        tokenizer, texts, 1.0 if finished else d.max_unknown_share, vocabulary, t.init_from
    )
    datasets = finetune_datasets(data, tokenizer, d.sequence_length, t.batch_size, t.seed,
                                 t.class_weights, t.task)  # fmt: skip
    sizes = {k: len(v) for k, v in data.splits.items()}
    derived = dict(vocabulary=vocabulary, vocabulary_size=tokenizer.vocabulary_size)
    if not d.train_data:  # name the dataset in the run's reports
        derived["dataset"] = d.dataset or DEFAULT_DATASET[t.task]
    return TaskInputs(
        tokenizer, datasets["train"], datasets["validation"],
        min(t.validation_steps, -(-sizes["validation"] // t.batch_size)),
        d.sequence_length, batches_per_pass=max(1, sizes["train"] // t.batch_size),
        derived=derived, test=datasets["test"], test_targets=data.test_targets,
        labels=data.label_names, pair=data.pair, sizes=sizes,
    )  # fmt: skip


def translation_inputs(config: Config) -> TaskInputs:
    """The inputs of `--task=translate`: the parallel splits {"train"|"validation"|
    "test": (sources, targets)} -> SentencePiece model(s) in the run dir (shared by
    default) -> the (source, target) tokenizers -> batches; `test` the test split's
    (sources, references); tokens per example the real tokens of both sides, end tokens
    included; with `--epochs`, the batches of one pass counted."""
    from pipelines.translation_dataset import (
        DEFAULT_DATASET,
        SPLITS,
        dataset_folder,
        make_translation_dataset,
        read_parallel,
        split_files,
    )
    from pipelines.vocabulary import ensure_translation_vocabularies

    d, t = config.data, config.train
    folder = dataset_folder(d.train_data, d.data_dir, d.dataset)
    languages = (d.source_language, d.target_language)
    files = {s: split_files(folder, s, *languages) for s in ("train", "validation", "test")}
    splits = {s: read_parallel(*paths) for s, paths in files.items()}
    vocabularies = ensure_translation_vocabularies(
        t.model_dir, *splits["train"], config.tokenizer_kind, d.shared_vocabulary,
        d.vocabulary_size_target, languages, d.vocabulary, d.target_vocabulary,
    )  # fmt: skip
    tokenizers = load_tokenizer_pair(config.tokenizer_kind, *vocabularies)
    shared = tokenizers[0] is tokenizers[1]

    def dataset(split: str, **kwargs):
        return make_translation_dataset(
            *splits[split], *tokenizers, d.sequence_length, t.batch_size, **kwargs
        )

    validation = dataset("validation")
    validation_steps = min(t.validation_steps, count_batches(validation))
    tokens_per_pair = sum(
        float(tok.tokenize(tf.constant(texts)).row_lengths().numpy().mean()) + 1
        for tok, texts in zip(tokenizers, splits["train"], strict=True)
    )
    return TaskInputs(
        tokenizers, dataset("train", shuffle_seed=t.seed, repeat=True),
        validation if validation_steps else None, validation_steps, tokens_per_pair,
        batches_per_pass=count_batches(dataset("train")) if t.epochs else 0,
        test=splits["test"], test_split=SPLITS["test"],
        sizes={s: len(pairs[0]) for s, pairs in splits.items()},
        derived=dict(
            tokenizer=config.tokenizer_kind, vocabulary=vocabularies[0],
            target_vocabulary=vocabularies[1], vocabulary_size=tokenizers[0].vocabulary_size,
            target_vocabulary_size=0 if shared else tokenizers[1].vocabulary_size,
            dataset=d.dataset or ("" if d.train_data else DEFAULT_DATASET),
        ),
    )  # fmt: skip

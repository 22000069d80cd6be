"""Labelled data for fine-tuning: the shared datasets by name, or the user's own
TSV / CSV / JSONL file, as train / validation / test splits of `LabeledTexts`.

A dataset with a single file is split 80/10/10 with a seeded shuffle (never written
back). Every problem with the input — a missing file or column, an empty file, a row
with more fields than the header (a stray tab), bytes that are not UTF-8, a field over
csv's 128 KB limit, a label outside the label set, a score that is not a number, too few
examples to fill every split — is a `DataError` naming the file and the line. A UTF-8
byte order mark is accepted.
"""

import csv
import dataclasses
import gzip
import io
import json
import math
import os
import random

import numpy as np
from absl import logging

from pipelines.sources import resolve_data_dir


class DataError(ValueError):
    """Bad fine-tuning input: the message says which file, line and what is wrong."""


@dataclasses.dataclass
class LabeledTexts:
    """Parallel lists; `texts_b` is None for single-sentence data; `labels` are strings
    (classification) or floats (regression)."""

    texts: list[str]
    texts_b: list[str] | None
    labels: list

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, indices: list[int]) -> "LabeledTexts":
        pick = lambda values: None if values is None else [values[i] for i in indices]  # noqa: E731
        return LabeledTexts(pick(self.texts), pick(self.texts_b), pick(self.labels))


@dataclasses.dataclass(frozen=True)
class DatasetSpec:
    """A shared dataset: files per split (relative to the data root; one file means
    split it), how to read them, and label names for the raw labels."""

    splits: dict
    reader: str  # table | stsb
    text_column: str = "text"
    text_b_column: str = ""
    label_column: str = "label"
    label_names: dict | None = None


DATASETS = {
    # SST-2's test split has no labels: train.tsv gives train + validation, dev.tsv is
    # the reported test set ("dev accuracy").
    "sst2": DatasetSpec(
        {"train": "sst2/train.tsv", "test": "sst2/dev.tsv"},
        "table",
        text_column="sentence",
        label_names={"0": "negative", "1": "positive"},
    ),  # fmt: skip
    "chnsenticorp": DatasetSpec(
        {"all": "chnsenticorp/ChnSentiCorp_htl_all.csv"},
        "table",
        text_column="review",
        label_names={"0": "negative", "1": "positive"},
    ),  # fmt: skip
    "stsb": DatasetSpec(
        {
            "train": "stsb/sts-train.csv",
            "validation": "stsb/sts-dev.csv",
            "test": "stsb/sts-test.csv",
        },
        "stsb",
    ),
}
DEFAULT_DATASET = {"classify": "sst2", "regress": "stsb", "embed": "stsb", "ner": "conll2003"}


def _delimiter(path: str) -> str | None:
    name = path[:-3] if path.endswith(".gz") else path
    if name.endswith(".jsonl") or name.endswith(".json"):
        return None
    return "," if name.endswith(".csv") else "\t"


def read_table(
    path: str,
    text_column: str = "text",
    text_b_column: str = "",
    label_column: str = "label",
    regression: bool = False,
) -> LabeledTexts:
    """A TSV (or .csv, or JSON-lines) file with a header naming the columns."""
    if not os.path.exists(path):
        raise DataError(f"no such file: {path}")
    columns = [c for c in (text_column, text_b_column, label_column) if c]
    f = io.StringIO(read_text(path), newline="")
    delimiter = _delimiter(path)
    if delimiter is None:
        rows = []
        for line_number, line in enumerate(f, 1):
            if line.strip():
                try:
                    rows.append((line_number, json.loads(line)))
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}:{line_number}: not JSON: {e}") from None
                if not isinstance(rows[-1][1], dict):
                    raise DataError(f"{path}:{line_number}: not a JSON object")
    else:
        rows = _table_rows(f, path, delimiter, columns)
    if not rows:
        raise DataError(f"{path}: no examples (empty file?)")
    texts, texts_b, labels = [], [], []
    for line_number, row in rows:
        missing = [c for c in columns if row.get(c) is None]
        if missing:
            raise DataError(f"{path}:{line_number}: missing {missing}")
        texts.append(str(row[text_column]))
        if text_b_column:
            texts_b.append(str(row[text_b_column]))
        labels.append(_label(row[label_column], regression, f"{path}:{line_number}"))
    return LabeledTexts(texts, texts_b if text_b_column else None, labels)


def read_text(path: str) -> str:
    """The file (gzipped if `.gz`) decoded as UTF-8, a byte order mark dropped; bytes
    that are not UTF-8 are a `DataError` naming the line."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise DataError(
            f"{path}:{line}: not UTF-8 (byte 0x{data[e.start]:02x} at column {column}); "
            "save the file as UTF-8 (e.g. iconv -f latin1 -t utf-8)"
        ) from None


def _table_rows(f, path: str, delimiter: str, columns: list[str]) -> list[tuple[int, dict]]:
    """(line number, {column: value}) of a delimited file with a header."""
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.DictReader(f, delimiter=delimiter, quoting=quoting)
    rows = []
    try:
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(
                f"{path}: missing column(s) {missing}; the header has {reader.fieldnames}"
            )
        for row in reader:
            if None in row:  # DictReader's key for fields beyond the header
                name = "tab" if delimiter == "\t" else repr(delimiter)
                raise DataError(
                    f"{path}:{reader.line_num}: {len(reader.fieldnames) + len(row[None])} "
                    f"fields, the header has {len(reader.fieldnames)} (a stray {name} in "
                    "the text?)"
                )
            rows.append((reader.line_num, row))
    except csv.Error as e:  # e.g. "field larger than field limit (131072)"
        # DictReader.line_num is updated after a row is read: its csv.reader's is current
        raise DataError(f"{path}:{reader.reader.line_num}: {e}") from None
    return rows


def _label(value, regression: bool, where: str):
    if not regression:
        return str(value).strip()
    try:
        score = float(value)
    except ValueError:
        raise DataError(f"{where}: score {value!r} is not a number") from None
    if not math.isfinite(score):  # float() reads "nan" and "inf": every weight would turn NaN
        raise DataError(f"{where}: score {value!r} is not a finite number")
    return score


def read_stsb(path: str) -> LabeledTexts:
    """STS Benchmark: tab-separated, no header, score in column 5, sentences in 6-7
    (some lines carry two extra columns, ignored)."""
    texts, texts_b, labels = [], [], []
    if not os.path.exists(path):
        raise DataError(f"no such file: {path}")
    for line_number, line in enumerate(io.StringIO(read_text(path), newline=None), 1):
        fields = line.rstrip("\n").split("\t")
        if len(fields) < 7:
            raise DataError(f"{path}:{line_number}: expected 7 tab-separated columns")
        labels.append(_label(fields[4], True, f"{path}:{line_number}"))
        texts.append(fields[5])
        texts_b.append(fields[6])
    if not texts:
        raise DataError(f"{path}: no examples (empty file?)")
    return LabeledTexts(texts, texts_b, labels)


def seeded_split(data: LabeledTexts, names: tuple, fractions: tuple, seed: int) -> dict:
    """Shuffles with `seed` and cuts `data` into `names` by `fractions` (summing to 1)."""
    order = list(range(len(data)))
    random.Random(seed).shuffle(order)
    cuts = _cuts(fractions, len(order))
    return {name: data.subset(order[cuts[i] : cuts[i + 1]]) for i, name in enumerate(names)}


def _cuts(fractions: tuple, n: int) -> list[int]:
    return [0] + [round(sum(fractions[: i + 1]) * n) for i in range(len(fractions))]


def _fewest_examples(fractions: tuple) -> int:
    """The fewest examples `seeded_split` cuts into parts that are all non-empty."""
    return next(n for n in range(1, 1000) if len(set(_cuts(fractions, n))) == len(fractions) + 1)


def split_80_10_10(data, seed: int, source: str = "") -> dict:
    """`data` (`LabeledTexts` or `TaggedSentences`) cut 80/10/10; a `DataError` naming
    `source` when a split would be empty."""
    splits = seeded_split(data, ("train", "validation", "test"), (0.8, 0.1, 0.1), seed)
    return require_examples(splits, source, (0.8, 0.1, 0.1))


def require_examples(splits: dict, source: str, fractions: tuple) -> dict:
    """`splits`, or a `DataError` naming `source` when one of them is empty (training
    needs validation to pick the best epoch and test to report on)."""
    empty = [name for name, data in splits.items() if not len(data)]
    if empty:
        total = sum(len(data) for data in splits.values())
        sizes = ", ".join(f"{name} {len(data)}" for name, data in splits.items())
        raise DataError(
            f"{source}: {total} example(s) leave the {' and '.join(empty)} split empty "
            f"({sizes}; split {'/'.join(f'{f:.0%}' for f in fractions)}): give at "
            f"least {_fewest_examples(fractions)}"
        )
    return splits


def load_splits(
    task: str,
    dataset: str = "",
    train_data: str = "",
    data_dir: str = "",
    text_column: str = "text",
    text_b_column: str = "",
    label_column: str = "label",
    seed: int = 0,
) -> tuple[dict[str, LabeledTexts], dict[str, str]]:
    """(splits, label names) for `task` (classify | regress): the user's `train_data`
    file when given (split 80/10/10), else the named (or the task's default) dataset."""
    regression = task in ("regress", "embed")  # embed: pairs with similarity scores
    if train_data and os.path.isdir(train_data):
        read = lambda path: read_table(path, text_column, text_b_column, label_column, regression)  # noqa: E731
        return folder_splits(train_data, read, seed), {}
    if train_data:
        data = read_table(train_data, text_column, text_b_column, label_column, regression)
        return split_80_10_10(data, seed, train_data), {}
    name = dataset or DEFAULT_DATASET[task]
    if name not in DATASETS:
        raise DataError(f"unknown dataset {name!r}; known: {sorted(DATASETS)}, or --train_data")
    spec = DATASETS[name]
    root = resolve_data_dir(data_dir)

    def read(relative: str) -> LabeledTexts:
        path = os.path.join(root, relative)
        if spec.reader == "stsb":
            return read_stsb(path)
        return read_table(path, spec.text_column, spec.text_b_column, spec.label_column, regression)

    files = {split: read(relative) for split, relative in spec.splits.items()}
    if "all" in files:
        source = os.path.join(root, spec.splits["all"])
        return split_80_10_10(files["all"], seed, source), dict(spec.label_names or {})
    if "validation" not in files:  # hold out 10 % of train for early stopping
        held_out = seeded_split(files["train"], ("train", "validation"), (0.9, 0.1), seed)
        files.update(
            require_examples(held_out, os.path.join(root, spec.splits["train"]), (0.9, 0.1))
        )
    return files, dict(spec.label_names or {})


SPLIT_NAMES = {"train": ("train",), "validation": ("validation", "dev"), "test": ("test",)}


def folder_splits(folder: str, read, seed: int = 0) -> dict[str, LabeledTexts]:
    """A folder in the GLUE layout: `train.<tsv|csv|jsonl>`, optional `dev`/`validation`
    and `test` files. A test file without labels (GLUE's) is left out: then the dev file
    is the test split and 10 % of train is held out for validation, as for SST-2."""
    found = {}
    for split, stems in SPLIT_NAMES.items():
        for stem in stems:
            paths = [os.path.join(folder, f"{stem}.{ext}") for ext in ("tsv", "csv", "jsonl")]
            path = next((p for p in paths if os.path.exists(p)), None)
            if path and split not in found:
                found[split] = path
    if "train" not in found:
        raise DataError(f"{folder}: a folder of splits needs train.tsv (or .csv / .jsonl)")
    splits = {"train": read(found["train"])}
    if "test" in found:
        try:
            splits["test"] = read(found["test"])
        except DataError as unlabelled:  # GLUE's test files have no labels
            logging.warning("%s: not used as the test split: %s", found["test"], unlabelled)
    if "validation" in found:
        splits["test" if "test" not in splits else "validation"] = read(found["validation"])
    if "validation" not in splits:
        held_out = seeded_split(splits["train"], ("train", "validation"), (0.9, 0.1), seed)
        splits.update(require_examples(held_out, found["train"], (0.9, 0.1)))
    if "test" not in splits:
        raise DataError(f"{folder}: no labelled test or dev file beside {found['train']}")
    return splits


def label_set(splits: dict[str, LabeledTexts], label_names: dict[str, str]) -> list[str]:
    """The training labels, sorted; a label in another split but not in training, or a
    single-class training set, is a `DataError`."""
    labels = sorted(set(splits["train"].labels))
    if len(labels) < 2:
        raise DataError(f"the training split has {len(labels)} distinct label(s): {labels}")
    for split, data in splits.items():
        unknown = sorted(set(data.labels) - set(labels))
        if unknown:
            raise DataError(
                f"{split} split has label(s) {unknown[:10]} outside the training label set "
                f"{[label_names.get(x, x) for x in labels][:20]}"
            )
    return labels


def label_array(data: LabeledTexts, labels: list[str] | None) -> np.ndarray:
    """Class ids (int32) in the order of `labels`, or regression scores (float32)."""
    if labels is None:
        return np.asarray(data.labels, np.float32)
    index = {label: i for i, label in enumerate(labels)}
    return np.asarray([index[x] for x in data.labels], np.int32)


@dataclasses.dataclass
class TaskData:
    """A fine-tuning task's splits; `labels` are the raw training labels in class-id
    order (None to regress) and `label_names` their display names."""

    splits: dict[str, LabeledTexts]
    labels: list[str] | None
    label_names: list[str] | None

    @property
    def pair(self) -> bool:
        return getattr(self.splits["train"], "texts_b", None) is not None

    @property
    def test_targets(self):
        """Class ids / scores of the test split (tag lists for token classification)."""
        return self.targets("test")

    def targets(self, split: str):
        """Class ids / scores of `split` (tag lists for token classification)."""
        data = self.splits[split]
        return data.tags if isinstance(data, TaggedSentences) else label_array(data, self.labels)


def load_task_data(task: str, dataset: str = "", train_data: str = "", *args, **kwargs) -> TaskData:
    """`load_splits` plus the checked label set (classification)."""
    splits, names = load_splits(task, dataset, train_data, *args, **kwargs)
    if task != "classify":
        return TaskData(splits, None, None)
    labels = label_set(splits, names)
    return TaskData(splits, labels, [names.get(x, x) for x in labels])


@dataclasses.dataclass
class TaggedSentences:
    """Token classification data: words and one IOB2 tag per word."""

    words: list[list[str]]
    tags: list[list[str]]

    def __len__(self) -> int:
        return len(self.words)

    def subset(self, indices: list[int]) -> "TaggedSentences":
        return TaggedSentences([self.words[i] for i in indices], [self.tags[i] for i in indices])


def iob1_to_iob2(tags: list[str]) -> list[str]:
    """IOB1 (B- only between two adjacent entities of one type) -> IOB2 (B- at every
    entity start)."""
    converted = []
    for i, tag in enumerate(tags):
        previous = tags[i - 1] if i else "O"
        if tag.startswith("I-") and (previous == "O" or previous[2:] != tag[2:]):
            tag = "B-" + tag[2:]
        converted.append(tag)
    return converted


def read_conll(path: str, iob1: bool = True) -> TaggedSentences:
    """CoNLL-2003 columns (`word POS chunk NER`, the tag last), a blank line between
    sentences, `-DOCSTART-` lines skipped; tags converted IOB1 -> IOB2."""
    if not os.path.exists(path):
        raise DataError(f"no such file: {path}")
    words, tags, sentence = [], [], []
    for line_number, line in enumerate([*io.StringIO(read_text(path), newline=None), "\n"], 1):
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            if sentence:
                words.append([w for w, _ in sentence])
                tag_list = [t for _, t in sentence]
                tags.append(iob1_to_iob2(tag_list) if iob1 else tag_list)
                sentence = []
            continue
        if len(fields) < 2 or not (fields[-1] == "O" or fields[-1][:2] in ("B-", "I-")):
            raise DataError(f"{path}:{line_number}: expected `word ... TAG`, got {line!r}")
        sentence.append((fields[0], fields[-1]))
    if not words:
        raise DataError(f"{path}: no sentences (empty file?)")
    return TaggedSentences(words, tags)


CONLL_SPLITS = {"train": "eng.train", "validation": "eng.testa", "test": "eng.testb"}


def load_ner_data(train_data: str = "", data_dir: str = "", seed: int = 0) -> TaskData:
    """CoNLL-2003 (train / testa / testb), or the user's CoNLL-format file split
    80/10/10. `labels` = every tag seen in training, "O" first."""
    if train_data:
        data = read_conll(train_data)
        splits = split_80_10_10(data, seed, train_data)
    else:
        root = os.path.join(resolve_data_dir(data_dir), "conll2003")
        splits = {k: read_conll(os.path.join(root, v)) for k, v in CONLL_SPLITS.items()}
    seen = {t for sentence in splits["train"].tags for t in sentence}
    labels = ["O"] + sorted(seen - {"O"})
    for split, data in splits.items():
        unknown = sorted({t for sentence in data.tags for t in sentence} - set(labels))
        if unknown:
            raise DataError(f"{split} split has tag(s) {unknown} never seen in training")
    return TaskData(splits, labels, labels)

"""A 3-class sentiment task (negative / neutral / positive) in the GLUE folder layout,
to show fine-tuning on a file of your own through `--train_data=<folder>`.

    python -m tools.three_class_sentiment --out=runs/sentiment3 [--train_per_class=3000]

Negative and positive are SST-2 sentences (train: the first `train_per_class` of each
label in SST-2 train, dev: the next `dev_per_class`, test: SST-2 dev, whose labels are
public); neutral are Multi30k English image captions (train / val / test_2016_flickr),
objective descriptions of a scene, lowercased and with punctuation split off as SST-2
writes its text. Writes `<out>/{train,dev,test}.tsv` with columns `text` and `label`
(`negative`, `neutral`, `positive`); seeded and stable.
"""

import gzip
import os
import random
import re

from absl import app, flags

from pipelines.sources import resolve_data_dir

flags.DEFINE_string("out", "runs/sentiment3", "output folder")
flags.DEFINE_integer("train_per_class", 3000, "training sentences per class")
flags.DEFINE_integer("dev_per_class", 300, "validation sentences per class")
flags.DEFINE_integer("seed", 0, "sampling seed")
FLAGS = flags.FLAGS

LABELS = {"0": "negative", "1": "positive"}


def sst2_rows(path: str) -> list[tuple[str, str]]:
    """(text, "negative" | "positive") of an SST-2 tsv (header `sentence<TAB>label`)."""
    with open(path, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    return [(text.strip(), LABELS[label]) for text, label in rows]


def captions(path: str) -> list[str]:
    """Multi30k English captions written as SST-2 writes text: lowercase, punctuation
    split off ("a man , in a red shirt .")."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = [line.strip().lower() for line in f if line.strip()]
    return [" ".join(re.findall(r"\w+(?:'\w+)?|[^\w\s]", line)) for line in lines]


def main(argv):
    del argv
    data = resolve_data_dir()
    rng = random.Random(FLAGS.seed)
    train = sst2_rows(os.path.join(data, "sst2", "train.tsv"))
    rng.shuffle(train)
    # SST-2 train holds phrases of every length; whole-sentence-like rows (>= 6 words)
    # keep the task about sentiment, not about length
    train = [row for row in train if len(row[0].split()) >= 6]
    per_label = {label: [r for r in train if r[1] == label] for label in LABELS.values()}
    n_train, n_dev = FLAGS.train_per_class, FLAGS.dev_per_class
    test = sst2_rows(os.path.join(data, "sst2", "dev.tsv"))
    neutral = {
        split: [(c, "neutral") for c in captions(os.path.join(data, "multi30k", f"{name}.en.gz"))]
        for split, name in (("train", "train"), ("dev", "val"), ("test", "test_2016_flickr"))
    }
    splits = {
        "train": [r for rows in per_label.values() for r in rows[:n_train]]
        + rng.sample(neutral["train"], n_train),
        "dev": [r for rows in per_label.values() for r in rows[n_train : n_train + n_dev]]
        + rng.sample(neutral["dev"], n_dev),
        "test": test + rng.sample(neutral["test"], len(test) // 2),
    }
    os.makedirs(FLAGS.out, exist_ok=True)
    for split, rows in splits.items():
        rng.shuffle(rows)
        with open(os.path.join(FLAGS.out, f"{split}.tsv"), "w", encoding="utf-8") as f:
            f.write("text\tlabel\n" + "".join(f"{text}\t{label}\n" for text, label in rows))
    counts = {s: {label: sum(r[1] == label for r in rows) for label in ("negative", "neutral",
              "positive")} for s, rows in splits.items()}  # fmt: skip
    print(counts, "->", FLAGS.out)


if __name__ == "__main__":
    app.run(main)

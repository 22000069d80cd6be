"""BBC News as a few-label topic-classification task, plus its unlabelled domain text.

    python -m tools.topic_splits --out=runs/bbc-topics [--train_per_class=60]

Writes `<out>/train.tsv` (`train_per_class` stories per topic: a few hundred labels),
`<out>/dev.tsv` (20 per topic) and `<out>/test.tsv` (every other story), columns
`text` (headline + first paragraphs, at most ~120 words) and `label` (the topic), and
`<out>/domain.txt`: the full text of every story not in test.tsv, one paragraph per
line, a blank line between stories, for continued pretraining (`--task=mlm
--init_from=... --train_data=<out>/domain.txt`). The split is seeded and stable.
"""

import csv
import os
import random

from absl import app, flags

from pipelines.sources import resolve_data_dir

flags.DEFINE_string("out", "runs/bbc-topics", "output folder")
flags.DEFINE_integer("train_per_class", 60, "labelled training stories per topic")
flags.DEFINE_integer("dev_per_class", 20, "validation stories per topic")
flags.DEFINE_integer("seed", 0, "split seed")
FLAGS = flags.FLAGS


def read_stories(folder: str) -> list[tuple[str, list[str]]]:
    """(topic, paragraphs) per story, in documents.tsv's order."""
    with open(os.path.join(folder, "documents.tsv"), encoding="utf-8") as f:
        topics = [row["category"] for row in csv.DictReader(f, delimiter="\t")]
    with open(os.path.join(folder, "bbc_news.txt"), encoding="utf-8") as f:
        stories = [s.strip().split("\n") for s in f.read().split("\n\n") if s.strip()]
    if len(stories) != len(topics):
        raise ValueError(f"{folder}: {len(stories)} stories but {len(topics)} rows")
    return list(zip(topics, stories, strict=True))


def main(argv):
    del argv
    stories = read_stories(os.path.join(resolve_data_dir(), "bbc-news"))
    order = list(range(len(stories)))
    random.Random(FLAGS.seed).shuffle(order)
    taken, splits = {}, {"train": [], "dev": [], "test": []}
    for i in order:
        topic = stories[i][0]
        n = taken.get(topic, 0)
        taken[topic] = n + 1
        split = "train" if n < FLAGS.train_per_class else "test"
        if FLAGS.train_per_class <= n < FLAGS.train_per_class + FLAGS.dev_per_class:
            split = "dev"
        splits[split].append(i)
    os.makedirs(FLAGS.out, exist_ok=True)
    for split, indices in splits.items():
        with open(os.path.join(FLAGS.out, f"{split}.tsv"), "w", encoding="utf-8") as f:
            f.write("text\tlabel\n")
            for i in indices:
                words = " ".join(stories[i][1]).replace("\t", " ").split()[:120]
                f.write(f"{' '.join(words)}\t{stories[i][0]}\n")
    with open(os.path.join(FLAGS.out, "domain.txt"), "w", encoding="utf-8") as f:
        for i in sorted(set(order) - set(splits["test"])):
            f.write("\n".join(stories[i][1]) + "\n\n")
    print({split: len(indices) for split, indices in splits.items()}, "->", FLAGS.out)


if __name__ == "__main__":
    app.run(main)

"""How much of each MLM pretraining row is real text (not padding), per pair objective:

    python -m benchmarks.padding_share --vocabulary=runs/mlm-budget/vocab.txt \
        [--pair_objectives=nsp,sop,none] [--batches=50] [--batch_size=32] \
        [--sequence_length=128] [--train_data=] [--data_dir=]

Builds the training `make_mlm_dataset` on the default pretraining corpora (or
`--train_data`) with a WordPiece vocabulary and averages `padding_mask` over the first
`--batches` batches (after the shuffle buffer has filled). Also prints the share of
label 1 ("not next" / "swapped") for nsp/sop.
"""

import time

import numpy as np
import tensorflow as tf
from absl import app, flags

from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer
from pipelines.mlm_dataset import make_mlm_dataset
from pipelines.sources import resolve_text_files

flags.DEFINE_string("vocabulary", "", "WordPiece vocabulary file (required)")
flags.DEFINE_bool("lower_case", True, "lower-case the text (as the vocabulary was trained)")
flags.DEFINE_string("normalization", "fast_bert", "WordPiece normalization: fast_bert|bert")
flags.DEFINE_list("pair_objectives", ["nsp", "sop", "none"], "objectives to measure")
flags.DEFINE_integer("batches", 50, "batches averaged per objective")
flags.DEFINE_integer("batch_size", 32, "rows per batch")
flags.DEFINE_integer("sequence_length", 128, "tokens per row")
flags.DEFINE_integer("shuffle_buffer", 10_000, "as --shuffle_buffer of run_train")
flags.DEFINE_integer("seed", 0, "data and masking seed")
flags.DEFINE_string("train_data", "", "corpus file, folder or glob (default: the corpora)")
flags.DEFINE_string("data_dir", "", "data directory of the default corpora")
FLAGS = flags.FLAGS


def measure(files, tokenizer, pair_objective: str) -> dict[str, float]:
    tf.random.set_seed(FLAGS.seed)
    dataset = make_mlm_dataset(
        files, tokenizer, FLAGS.batch_size, FLAGS.sequence_length,
        pair_objective=pair_objective, shuffle_buffer=FLAGS.shuffle_buffer, seed=FLAGS.seed,
    )  # fmt: skip
    start = time.monotonic()
    real, labels = [], []
    for x, y, _ in dataset.take(FLAGS.batches).as_numpy_iterator():
        real.append(x["padding_mask"].mean())
        if pair_objective in y:
            labels.append(y[pair_objective].mean())
    return {
        "batches": len(real),
        "real": float(np.mean(real)),
        "label": float(np.mean(labels)) if labels else float("nan"),
        "seconds": time.monotonic() - start,
    }


def main(argv):
    del argv
    if not FLAGS.vocabulary:
        raise app.UsageError("--vocabulary is required (e.g. runs/<run>/vocab.txt)")
    files = resolve_text_files(FLAGS.train_data, FLAGS.data_dir)
    tokenizer = WordPieceTokenizer(
        FLAGS.vocabulary, FLAGS.lower_case, normalization=FLAGS.normalization
    )
    print(
        f"Real (non-padding) tokens of {FLAGS.batches} training batches of "
        f"{FLAGS.batch_size} x {FLAGS.sequence_length}, {len(files)} corpus files"
    )
    print()
    print("| pair objective | batches | real tokens | label 1 share | seconds |")
    print("|---|---|---|---|---|")
    for pair_objective in FLAGS.pair_objectives:
        r = measure(files, tokenizer, pair_objective)
        print(
            f"| {pair_objective} | {r['batches']} | {r['real']:.1%} | {r['label']:.2f} "
            f"| {r['seconds']:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    app.run(main)

"""Why a small BERT stalls on the "frequent words" plateau: tied vs untied MLM head.

Synthetic data where context decides everything: each row is a run of `--words`
distinct word ids in a fixed cyclic order from a random start, 15 % of positions
masked. Predicting a masked word from its neighbours is trivial; the best
context-free guess is right 1 time in `--words`. The same 2-layer `BertPretrainer` is
trained on it with the vocabulary size and head tying varied:

    python -m benchmarks.mlm_plateau [--steps=500]

and the table gives the masked-token accuracy over training. With `--runs=a,b` it
instead measures how much of the token embeddings of pretraining runs is one shared
direction (a tied head on the plateau pushes every row the same way):

    python -m benchmarks.mlm_plateau --runs=runs/mlm-mini-accept,runs/mlm-mini-untied

With `--corpus_steps=N` it trains on the real default corpus instead (the MLM
pipeline; BERT mini, RoBERTa packing, pre-LN, untied head, no dropout, batch 32 x 128,
lr 1e-3) with and without the embedding convolution (`conv_width` 0 vs 3), and prints
held-out MLM accuracy every 50 steps:

    python -m benchmarks.mlm_plateau --corpus_steps=400 \
        --vocabulary=runs/mlm-mini-accept/vocab.txt

(README: "The MLM plateau".)
"""

import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer
from bertgpt_tf.tokenizers.special_tokens import CLS_ID, MASK_ID

flags.DEFINE_integer("steps", 500, "training steps per configuration")
flags.DEFINE_integer("words", 60, "distinct words in the cycle")
flags.DEFINE_list("vocabulary_sizes", ["100", "30522"], "vocabulary sizes to compare")
flags.DEFINE_list("runs", [], "mlm run directories: report embedding anisotropy instead")
flags.DEFINE_integer("corpus_steps", 0, ">0: compare conv_width 0 vs 3 on the real corpus")
flags.DEFINE_string("vocabulary", "", "--corpus_steps: WordPiece vocabulary file")
flags.DEFINE_list("conv_widths", ["0", "3"], "--corpus_steps: conv_width values to compare")
FLAGS = flags.FLAGS

BATCH, LENGTH, PREDICTIONS = 32, 64, 20


def cyclic_batches(vocabulary_size: int, words: int, seed: int = 0):
    """Endless (x, y, sample_weight) batches of masked cyclic word runs."""
    rng = np.random.default_rng(seed)
    cycle = rng.choice(np.arange(5, vocabulary_size), words, replace=False)
    while True:
        ids = np.zeros((BATCH, LENGTH), "int32")
        padding_mask = np.zeros_like(ids)
        positions = np.zeros((BATCH, PREDICTIONS), "int32")
        labels, weights = np.zeros_like(positions), np.zeros((BATCH, PREDICTIONS), "float32")
        for row in range(BATCH):
            n = rng.integers(20, LENGTH - 1)
            ids[row, 0], ids[row, 1 : n + 1] = (
                CLS_ID,
                cycle[(rng.integers(words) + np.arange(n)) % words],
            )
            padding_mask[row, : n + 1] = 1
            picked = np.sort(rng.choice(np.arange(1, n + 1), int(np.ceil(0.15 * n)), replace=False))
            picked = picked[:PREDICTIONS]
            positions[row, : len(picked)] = picked
            labels[row, : len(picked)] = ids[row, picked]
            weights[row, : len(picked)] = 1.0
            ids[row, picked] = MASK_ID
        x = {"token_ids": ids, "segment_ids": np.zeros_like(ids), "padding_mask": padding_mask,
             "mask_positions": positions}  # fmt: skip
        yield x, {"mlm": labels}, {"mlm": weights}


def accuracy_curve(vocabulary_size: int, tie: bool, steps: int, words: int) -> list[float]:
    keras.utils.set_random_seed(0)
    encoder = BertEncoder(vocabulary_size, num_layers=2, num_heads=2, hidden_dim=128,
                          intermediate_dim=512, max_sequence_length=LENGTH)  # fmt: skip
    model = BertPretrainer(encoder, "none", tie_word_embeddings=tie)
    model.compile(keras.optimizers.Adam(1e-3, epsilon=1e-6))
    batches = cyclic_batches(vocabulary_size, words)
    spec = tf.nest.map_structure(lambda a: tf.TensorSpec(a.shape, a.dtype), next(batches))
    dataset = tf.data.Dataset.from_generator(lambda: batches, output_signature=spec)
    epoch = max(1, steps // 5)
    history = model.fit(dataset, steps_per_epoch=epoch, epochs=steps // epoch, verbose=0)
    return history.history["accuracy"]


def corpus_curve(conv_width: int, steps: int, vocabulary: str, every: int = 50) -> list[float]:
    """Held-out MLM accuracy every `every` steps on the default corpus."""
    from bertgpt_tf.config import Config
    from bertgpt_tf.tasks.build_model import build_model
    from bertgpt_tf.tokenizers.load_tokenizer import load_tokenizer
    from bertgpt_tf.training.optimizer import make_optimizer
    from pipelines.sources import resolve_text_files
    from pipelines.task_data import make_datasets

    keras.utils.set_random_seed(0)
    config = Config.from_preset(
        "mini", pair_objective="none", normalize_first=True, tie_word_embeddings=False,
        dropout=0.0, conv_width=conv_width, vocabulary=vocabulary, validation_steps=10,
    )  # fmt: skip
    tokenizer = load_tokenizer("wordpiece", vocabulary, True)
    config = config.replace(vocabulary_size=tokenizer.vocabulary_size)
    train, validation, validation_steps = make_datasets(
        config, resolve_text_files("", ""), tokenizer
    )
    model = build_model(config)
    model.compile(make_optimizer(1e-3, 100, steps, "linear", 0.01, 0.999))
    history = model.fit(
        train, validation_data=validation, validation_steps=validation_steps,
        steps_per_epoch=every, epochs=steps // every, verbose=2,
    )  # fmt: skip
    return history.history["val_accuracy"]


def embedding_anisotropy(run_dir: str, sample: int = 2000) -> tuple[float, float]:
    """(mean pairwise cosine of `sample` token embeddings, share of their mean squared
    norm that is the mean vector): both about 0 for random rows, 1 when collapsed."""
    from bertgpt_tf.tasks.load_task_model import load_task_model

    model = load_task_model(f"{run_dir}/model.keras")
    rows = model.backbone.token_embedding.embeddings.numpy()[5:]  # past the specials
    rng = np.random.default_rng(0)
    rows = rows[rng.choice(len(rows), min(sample, len(rows)), replace=False)]
    unit = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    cosines = (unit @ unit.T)[~np.eye(len(rows), dtype=bool)]
    share = np.sum(rows.mean(0) ** 2) / np.mean(np.sum(rows**2, axis=1))
    return float(cosines.mean()), float(share)


def main(argv):
    del argv
    if FLAGS.runs:
        print("| run | mean pairwise cosine | shared-direction share |\n|---|---|---|")
        for run_dir in FLAGS.runs:
            cosine, share = embedding_anisotropy(run_dir)
            print(f"| {run_dir} | {cosine:.3f} | {share:.3f} |")
        return
    if FLAGS.corpus_steps:
        every = 50
        header = " | ".join(f"step {every * (i + 1)}" for i in range(FLAGS.corpus_steps // every))
        rows = []
        for width in map(int, FLAGS.conv_widths):
            start = time.time()
            curve = corpus_curve(width, FLAGS.corpus_steps, FLAGS.vocabulary, every)
            cells = " | ".join(f"{a:.3f}" for a in curve)
            rows.append(f"| {width} | {cells} | {time.time() - start:.0f} |")
        print("Held-out MLM accuracy on the default corpus (BERT mini, batch 32 x 128)")
        print(f"| conv_width | {header} | seconds |")
        print("|---|" + "---|" * (FLAGS.corpus_steps // every) + "---|")
        print("\n".join(rows))
        return
    epoch = max(1, FLAGS.steps // 5)
    header = " | ".join(f"steps {epoch * (i + 1)}" for i in range(FLAGS.steps // epoch))
    print(f"Masked-token accuracy (mean over each {epoch} steps); context-free best: "
          f"{1 / FLAGS.words:.3f}")  # fmt: skip
    print(f"| vocabulary | MLM head | {header} | seconds |")
    print("|---|---|" + "---|" * (FLAGS.steps // epoch) + "---|")
    for size in map(int, FLAGS.vocabulary_sizes):
        for tie in (True, False):
            start = time.time()
            curve = accuracy_curve(size, tie, FLAGS.steps, FLAGS.words)
            cells = " | ".join(f"{a:.3f}" for a in curve)
            head = "tied" if tie else "untied"
            print(f"| {size:,} | {head} | {cells} | {time.time() - start:.0f} |", flush=True)


if __name__ == "__main__":
    app.run(main)

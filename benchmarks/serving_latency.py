"""In-process serving latency of exported SavedModels: `serving_default` on raw text.

    python -m benchmarks.serving_latency --texts=../shared/data/sst2/dev.tsv \
        [--models=saved_models/classify-mini,saved_models/mlm-mini] [--calls=1000]

For each model (its newest version): load with `tf.saved_model.load`, call the raw-text
`serving_default` `--calls` times with one sentence (of `--texts`, e.g. SST-2 dev, one
word masked for fill-mask), then `--batch_calls` times with `--batch_size` sentences; report
p50 / p99 ms and sentences/s. Beside a classifier, the peer path of ../shared/PEERS.md:
the same Keras model through Keras' own `model.export` (token ids in: tokenization is
not timed there, while ours includes it).
"""

import json
import os
import random
import tempfile
import time

import numpy as np
import tensorflow as tf
import tensorflow_text  # noqa: F401  (registers the TF-Text ops the exports use)
from absl import app, flags

from bertgpt_tf.config import ENCODER_PRETRAINING

flags.DEFINE_list(
    "models", ["saved_models/classify-mini", "saved_models/mlm-mini"], "model base paths"
)
flags.DEFINE_integer("calls", 1000, "single-sentence calls per model")
flags.DEFINE_integer("batch_size", 32, "sentences per batched call")
flags.DEFINE_integer("batch_calls", 50, "batched calls per model")
flags.DEFINE_string(
    "texts",
    "",
    "sentences to send: a text file, or a TSV whose first column is the text "
    "(e.g. ../shared/data/sst2/dev.tsv); default: the model's warmup requests",
)
FLAGS = flags.FLAGS


def newest_version(model_base_path: str) -> str:
    versions = [int(v) for v in os.listdir(model_base_path) if v.isdigit()]
    if not versions:
        raise FileNotFoundError(f"no version under {model_base_path}")
    return os.path.join(model_base_path, str(max(versions)))


def sentences(task: str, saved_model_dir: str) -> list[str]:
    if not FLAGS.texts:
        from bertgpt_tf.export.warmup import read_warmup_requests

        requests = read_warmup_requests(saved_model_dir)
        return [t.decode() for _, inputs in requests for t in inputs.get("text", [])]
    with open(FLAGS.texts, encoding="utf-8") as f:
        lines = f.read().splitlines()
    texts = [line.split("\t")[0].strip() for line in lines[FLAGS.texts.endswith(".tsv") :]]
    if task in ENCODER_PRETRAINING:  # fill-mask: one word masked per sentence
        rng = random.Random(0)
        masked = []
        for text in texts:
            words = text.split()
            words[rng.randrange(len(words))] = "[MASK]"
            masked.append(" ".join(words))
        texts = masked
    return texts


def time_calls(fn, batches: list) -> np.ndarray:
    """Milliseconds per call, after 10 warm-up calls."""
    for batch in batches[:10]:
        fn(batch)
    times = []
    for batch in batches:
        start = time.perf_counter()
        fn(batch)
        times.append(1000 * (time.perf_counter() - start))
    return np.array(times)


def row(name: str, single: np.ndarray, batched: np.ndarray) -> str:
    p = lambda t, q: np.percentile(t, q)  # noqa: E731
    rate = 1000 * FLAGS.batch_size / np.median(batched)
    return (
        f"| {name} | {p(single, 50):.1f} / {p(single, 99):.1f} | "
        f"{p(batched, 50):.0f} / {p(batched, 99):.0f} | {rate:,.0f} |"
    )


def keras_export_peer(run_dir: str, texts: list[str], sequence_length: int):
    """The same classifier via Keras `model.export` (token tensors in), as PEERS.md."""
    from bertgpt_tf.config import Config
    from bertgpt_tf.tasks.load_task_model import load_task_model
    from bertgpt_tf.tokenizers.load_tokenizer import load_tokenizer
    from bertgpt_tf.tokenizers.segment_packer import encode_texts

    config = Config.from_json(os.path.join(run_dir, "config.json"))
    model = load_task_model(os.path.join(run_dir, "model.keras"))
    tokenizer = load_tokenizer(
        "wordpiece", config.data.vocabulary, config.data.lower_case,
        normalization=config.data.normalization,
    )  # fmt: skip
    path = os.path.join(tempfile.mkdtemp(), "keras_export")
    model.export(path, verbose=False)
    loaded = tf.saved_model.load(path)

    def inputs(batch):
        encoded = encode_texts(tokenizer, tf.constant(batch), None, sequence_length, False)
        return {k: v.numpy() for k, v in encoded.items()}

    return (lambda batch: loaded.serve(batch)), inputs


def main(argv):
    del argv
    print(
        f"| model (serving_default) | batch 1 p50 / p99 ms ({FLAGS.calls} calls) | "
        f"batch {FLAGS.batch_size} p50 / p99 ms | sentences/s at batch {FLAGS.batch_size} |"
    )
    print("|---|---|---|---|")
    for base in FLAGS.models:
        path = newest_version(base)
        with open(os.path.join(path, "model_card.json")) as f:
            card = json.load(f)
        texts = sentences(card["task"], path)
        loaded = tf.saved_model.load(path)  # keep a reference: signatures hold it weakly
        serve = loaded.signatures["serving_default"]

        def call(batch, serve=serve):
            return serve(text=tf.constant(batch))

        singles = [[texts[i % len(texts)]] for i in range(FLAGS.calls)]
        batches = [
            [texts[(i * FLAGS.batch_size + j) % len(texts)] for j in range(FLAGS.batch_size)]
            for i in range(FLAGS.batch_calls)
        ]
        print(row(f"{path} ({card['task']}, raw text in)", time_calls(call, singles),
                  time_calls(call, batches)), flush=True)  # fmt: skip
        if card["task"] in ("classify", "regress"):
            sequence_length = card["config"]["data"]["sequence_length"]
            peer, encode = keras_export_peer(card["run_dir"], texts, sequence_length)
            single_inputs = [encode(b) for b in singles]
            batch_inputs = [encode(b) for b in batches]
            print(row("same model, Keras `model.export` (token ids in)",
                      time_calls(peer, single_inputs), time_calls(peer, batch_inputs)),
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    app.run(main)

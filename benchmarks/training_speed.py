"""Training throughput, BERT MLM or GPT causal LM: ours vs keras-hub, side by side.

    python -m benchmarks.training_speed [--model=bert|gpt] [--precisions=fp32,bf16] \
        [--repeats=3] [--vocabulary=runs/<an mlm run>/vocab.txt]

The configs of ../shared/PEERS.md, `model.fit` everywhere, dropout 0.1, AdamW:
- bert: vocabulary 30,522, 4 layers, hidden 256, 4 heads, FFN 1024, sequence 128, batch
  32, 20 masked predictions per sequence, vocabulary projection on the masked positions
  only; keras-hub's `BertMaskedLM` against our `BertPretrainer`.
- gpt: vocabulary 50,257, the same 4 x 256 blocks, sequence 256, batch 16; keras-hub's
  `GPT2CausalLM` against our `GPTCausalLM` (`run_train.py --task=clm`'s model).
Rows:
- `keras-hub`: `keras_hub.models.BertMaskedLM` compiled with AdamW and `jit_compile=False`,
  and `keras-hub, XLA` with `jit_compile=True` (Keras' default "auto" turns XLA on, which
  is keras-hub's slow bf16 configuration on this CPU): each peer at its best, the ratio
  column compares with the faster of the two in the same precision.
- `ours, tensors in`: `BertPretrainer` exactly as `run_train.py --task=mlm
  --pair_objective=none` builds it (MirroredStrategy, our AdamW with clipping and
  weight-decay exclusions, the replica-consistent loss), fed the same kind of batches.
- `ours, text in` (with `--vocabulary`): the same model fed by run_train's tf.data
  pipeline from the default corpus (read, TF-Text WordPiece, packing, dynamic masking in
  the graph, on the same 2 cores): what a user's run gets.

Each cell is its own process (mixed precision is a global policy), run `--repeats` times
in alternating order; a cell times `--steps` steps after `--warmup_steps` (tracing and
oneDNN warm-up excluded) and reports tokens/s (batch x sequence / step time; every
token is real: the random batches and the packed text rows have no padding) and the peak
RSS. The table gives the median, the range and the ratio to the best keras-hub row of
the same column.
"""

import json
import os
import resource
import statistics
import subprocess
import sys
import time

import keras
from absl import app, flags

flags.DEFINE_enum("model", "bert", ["bert", "gpt"], "BERT MLM or GPT causal LM")
flags.DEFINE_list("precisions", ["fp32", "bf16"], "fp32 and/or bf16 (mixed_bfloat16)")
flags.DEFINE_integer("repeats", 3, "processes per cell (median reported)")
flags.DEFINE_integer("steps", 60, "timed steps per process")
flags.DEFINE_integer("warmup_steps", 15, "untimed steps first")
flags.DEFINE_string("vocabulary", "", "a 30,522-entry vocab.txt: adds the text-in row")
flags.DEFINE_string("data_dir", "", "corpus root for the text-in row (default: as run_train)")
flags.DEFINE_string("cell", "", "internal: run one cell (`<row>:<precision>`) and print JSON")
FLAGS = flags.FLAGS

VOCABULARY_SIZE, SEQUENCE, BATCH, PREDICTIONS = 30522, 128, 32, 20
GPT_VOCABULARY_SIZE, GPT_SEQUENCE, GPT_BATCH = 50257, 256, 16
SIZES = dict(num_layers=4, num_heads=4, hidden_dim=256, intermediate_dim=1024)
ROWS = {
    "keras_hub": "keras-hub (BertMaskedLM / GPT2CausalLM)",
    "keras_hub_xla": "keras-hub, XLA",
    "ours": "ours, tensors in",
    "ours_text": "ours, text in (tf.data pipeline)",
}


def _token_batches(num_batches: int = 16):
    """`num_batches` distinct random MLM batches, cached and repeated forever."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    n = num_batches * BATCH
    positions = np.sort(
        np.stack(
            [rng.choice(np.arange(1, SEQUENCE), PREDICTIONS, replace=False) for _ in range(n)]
        ),
        axis=1,
    ).astype("int32")
    x = {
        "token_ids": rng.integers(5, VOCABULARY_SIZE, (n, SEQUENCE)).astype("int32"),
        "segment_ids": np.zeros((n, SEQUENCE), "int32"),
        "padding_mask": np.ones((n, SEQUENCE), "int32"),
        "mask_positions": positions,
    }
    labels = rng.integers(5, VOCABULARY_SIZE, (n, PREDICTIONS)).astype("int32")
    weights = np.ones((n, PREDICTIONS), "float32")
    data = tf.data.Dataset.from_tensor_slices((x, labels, weights)).batch(
        BATCH, drop_remainder=True
    )
    return data.cache().repeat().prefetch(tf.data.AUTOTUNE)


PEERS = ("keras_hub", "keras_hub_xla")


def _gpt_batches(num_batches: int = 16):
    """Random causal-LM batches (all tokens real), cached and repeated forever."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    n = num_batches * GPT_BATCH
    ids = rng.integers(1, GPT_VOCABULARY_SIZE, (n, GPT_SEQUENCE + 1)).astype("int32")
    x = {"token_ids": ids[:, :-1], "padding_mask": np.ones((n, GPT_SEQUENCE), "int32")}
    weights = np.ones((n, GPT_SEQUENCE), "float32")
    data = tf.data.Dataset.from_tensor_slices((x, ids[:, 1:], weights)).batch(
        GPT_BATCH, drop_remainder=True
    )
    return data.cache().repeat().prefetch(tf.data.AUTOTUNE)


def _keras_hub(jit_compile: bool):
    """keras-hub's task model for `--model` (BertMaskedLM or GPT2CausalLM) and batches."""
    import keras_hub

    gpt = FLAGS.model == "gpt"
    backbone_class = keras_hub.models.GPT2Backbone if gpt else keras_hub.models.BertBackbone
    backbone = backbone_class(
        vocabulary_size=GPT_VOCABULARY_SIZE if gpt else VOCABULARY_SIZE,
        max_sequence_length=1024 if gpt else 512, dropout=0.1, **SIZES,
    )  # fmt: skip
    task_class = keras_hub.models.GPT2CausalLM if gpt else keras_hub.models.BertMaskedLM
    model = task_class(backbone, preprocessor=None)
    model.compile(
        optimizer=keras.optimizers.AdamW(1e-4, weight_decay=0.01), jit_compile=jit_compile
    )
    return model, _gpt_batches() if gpt else _token_batches()


def _our_gpt():
    from bertgpt_tf.config import Config
    from bertgpt_tf.tasks.build_model import build_model
    from bertgpt_tf.training.fit import make_strategy
    from bertgpt_tf.training.optimizer import make_optimizer

    config = Config.from_preset(
        "mini", task="clm", vocabulary_size=GPT_VOCABULARY_SIZE, sequence_length=GPT_SEQUENCE,
        max_sequence_length=1024, batch_size=GPT_BATCH, dropout=0.1,
    )  # fmt: skip
    with make_strategy().scope():
        model = build_model(config)
        t = config.train
        model.compile(make_optimizer(1e-4, t.warmup_steps, t.steps, weight_decay=0.01))
    return model, _gpt_batches()


def _our_model(text_in: bool):
    from bertgpt_tf.config import Config
    from bertgpt_tf.tasks.build_model import build_model
    from bertgpt_tf.training.fit import make_strategy
    from bertgpt_tf.training.optimizer import make_optimizer

    config = Config.from_preset(
        "mini", task="mlm", recipe="bert", pair_objective="none", vocabulary_size=VOCABULARY_SIZE,
        sequence_length=SEQUENCE, batch_size=BATCH, max_predictions_per_seq=PREDICTIONS,
        dropout=0.1, vocabulary=FLAGS.vocabulary, data_dir=FLAGS.data_dir,
    )  # fmt: skip
    with make_strategy().scope():
        model = build_model(config)
        t = config.train
        model.compile(make_optimizer(1e-4, t.warmup_steps, t.steps, weight_decay=0.01))
    if not text_in:
        data = _token_batches().map(lambda x, y, w: (x, {"mlm": y}, {"mlm": w}))
        return model, data
    from bertgpt_tf.tokenizers.load_tokenizer import load_tokenizer
    from pipelines.sources import resolve_text_files
    from pipelines.task_data import make_datasets

    tokenizer = load_tokenizer("wordpiece", FLAGS.vocabulary)
    if tokenizer.vocabulary_size != VOCABULARY_SIZE:
        raise ValueError(f"{FLAGS.vocabulary}: {tokenizer.vocabulary_size} entries, not 30522")
    files = resolve_text_files("", config.data.data_dir)
    return model, make_datasets(config.replace(validation_steps=0), files, tokenizer)[0]


class _StepTimer(keras.callbacks.Callback):
    """Wall time from the end of step `warmup_steps` to the end of the last step."""

    def __init__(self, warmup_steps: int):
        super().__init__()
        self.warmup_steps = warmup_steps

    def on_train_batch_end(self, batch, logs=None):
        if batch + 1 == self.warmup_steps:
            self.start = time.perf_counter()
        self.end = time.perf_counter()


def run_cell(cell: str) -> dict:
    """Builds the row's model under the precision's policy, fits, returns the numbers."""
    row, precision = cell.split(":")
    if precision == "bf16":
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    keras.utils.set_random_seed(0)
    if row in PEERS:
        model, data = _keras_hub(jit_compile=row == "keras_hub_xla")
    elif FLAGS.model == "gpt":
        model, data = _our_gpt()
    else:
        model, data = _our_model(row == "ours_text")
    timer = _StepTimer(FLAGS.warmup_steps)
    total = FLAGS.warmup_steps + FLAGS.steps
    history = model.fit(data, steps_per_epoch=total, epochs=1, callbacks=[timer], verbose=0)
    seconds = timer.end - timer.start
    return {
        "tokens_per_second": FLAGS.steps * _tokens_per_step() / seconds,
        "loss": float(history.history["loss"][-1]),
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def _tokens_per_step() -> int:
    return GPT_BATCH * GPT_SEQUENCE if FLAGS.model == "gpt" else BATCH * SEQUENCE


def _run_in_process(cell: str) -> dict:
    args = [sys.executable, "-m", "benchmarks.training_speed", f"--cell={cell}"]
    args += [
        f"--{k}={getattr(FLAGS, k)}"
        for k in ("model", "steps", "warmup_steps", "vocabulary", "data_dir")
    ]
    done = subprocess.run(
        args, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    )
    if done.returncode:
        raise RuntimeError(f"{cell} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv):
    del argv
    if FLAGS.cell:
        print(json.dumps(run_cell(FLAGS.cell)))
        return
    rows = [r for r in ROWS if r != "ours_text" or (FLAGS.vocabulary and FLAGS.model == "bert")]
    cells = [f"{r}:{p}" for p in FLAGS.precisions for r in rows]
    results = {c: [] for c in cells}
    for repeat in range(FLAGS.repeats):
        for cell in cells if repeat % 2 == 0 else cells[::-1]:  # alternate the order
            results[cell].append(_run_in_process(cell))
            r = results[cell][-1]
            print(f"[{repeat + 1}/{FLAGS.repeats}] {cell:16s} {r['tokens_per_second']:8,.0f} tokens/s"
                  f"  loss {r['loss']:.3f}  peak RSS {r['peak_rss_gb']:.2f} GB", flush=True)  # fmt: skip
    what = "GPT causal-LM" if FLAGS.model == "gpt" else "BERT MLM"
    print(f"\n{what} training, tokens/s (median of {FLAGS.repeats} processes, "
          f"{FLAGS.steps} steps each; range; ratio to the best keras-hub row of the same "
          "column)\n")  # fmt: skip
    print("| row | " + " | ".join(FLAGS.precisions) + " | peak RSS |")
    print("|---|" + "---|" * len(FLAGS.precisions) + "---|")
    for row in rows:
        line = f"| {ROWS[row]} |"
        for precision in FLAGS.precisions:
            speeds = [r["tokens_per_second"] for r in results[f"{row}:{precision}"]]
            peer = max(
                statistics.median(r["tokens_per_second"] for r in results[f"{p}:{precision}"])
                for p in PEERS
            )
            median = statistics.median(speeds)
            line += f" {median:,.0f} ({min(speeds):,.0f}–{max(speeds):,.0f}) {median / peer:.2f}x |"
        rss = max(r["peak_rss_gb"] for p in FLAGS.precisions for r in results[f"{row}:{p}"])
        print(line + f" {rss:.1f} GB |")


if __name__ == "__main__":
    app.run(main)

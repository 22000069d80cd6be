"""Greedy generation throughput: our KV-cached `generate` vs keras-hub's GPT2CausalLM.

    python -m benchmarks.generation_speed [--preset=mini] [--new_tokens=64]

Same model size and the same weights in both (our GPTDecoder with learned positions and
GELU is numerically GPT-2; a test pins that), same prompts, greedy. Prints a table of new
tokens per second for batch 1 and batch 8 (median of `--repeats` timed runs after a
warm-up run that compiles). Both sides are XLA-compiled: keras-hub's `generate` compiles
its loop by default; ours runs `generate` inside `tf.function(jit_compile=True)`.
"""

import statistics
import time

import keras
import keras_hub
import numpy as np
import tensorflow as tf
from absl import app, flags

from bertgpt_tf.config import PRESETS
from bertgpt_tf.models.gpt_decoder import GPTDecoder
from bertgpt_tf.models.gpt_generation import generate

flags.DEFINE_string("preset", "mini", "model size (bertgpt_tf.config.PRESETS)")
flags.DEFINE_integer("vocabulary_size", 50257, "GPT-2's vocabulary")
flags.DEFINE_integer("prompt_tokens", 16, "prompt length")
flags.DEFINE_integer("new_tokens", 64, "tokens generated per prompt")
flags.DEFINE_integer("repeats", 3, "timed runs per cell (median reported)")
FLAGS = flags.FLAGS


def _models():
    sizes = PRESETS[FLAGS.preset]
    max_length = FLAGS.prompt_tokens + FLAGS.new_tokens
    ours = GPTDecoder(vocabulary_size=FLAGS.vocabulary_size, max_sequence_length=1024, **sizes)
    backbone = keras_hub.models.GPT2Backbone(
        vocabulary_size=FLAGS.vocabulary_size, max_sequence_length=1024, dropout=0.0, **sizes
    )
    backbone.set_weights(ours.get_weights())  # same layout (parity-tested)
    theirs = keras_hub.models.GPT2CausalLM(backbone, preprocessor=None)
    theirs.compile(sampler="greedy")
    return ours, theirs, max_length


def _median_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: tracing and XLA compilation
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv):
    del argv
    ours, theirs, max_length = _models()
    rng = np.random.default_rng(0)

    @tf.function(jit_compile=True)
    def our_generate(token_ids, lengths):
        return generate(ours, token_ids, lengths, FLAGS.new_tokens)["token_ids"]

    rows = []
    for batch in (1, 8):
        prompts = rng.integers(10, FLAGS.vocabulary_size, (batch, FLAGS.prompt_tokens)).astype(
            "int32"
        )
        lengths = np.full((batch,), FLAGS.prompt_tokens, "int32")
        padded = np.zeros((batch, max_length), "int32")
        padded[:, : FLAGS.prompt_tokens] = prompts
        mask = np.zeros((batch, max_length), "int32")
        mask[:, : FLAGS.prompt_tokens] = 1
        hub_inputs = {"token_ids": padded, "padding_mask": mask}

        def run_ours(prompts=prompts, lengths=lengths):
            return our_generate(tf.constant(prompts), tf.constant(lengths)).numpy()

        def run_theirs(hub_inputs=hub_inputs):
            return theirs.generate(hub_inputs, max_length=max_length, stop_token_ids=None)

        same = np.array_equal(
            run_ours()[:, :max_length], np.asarray(run_theirs()["token_ids"])[:, :max_length]
        )
        for name, fn in (
            ("bertgpt_tf generate (KV cache, XLA)", run_ours),
            ("keras-hub GPT2CausalLM.generate", run_theirs),
        ):
            seconds = _median_seconds(fn, FLAGS.repeats)
            rows.append((name, batch, batch * FLAGS.new_tokens / seconds, same))
    print(
        f"\nGreedy generation, preset {FLAGS.preset}, vocab {FLAGS.vocabulary_size}, "
        f"prompt {FLAGS.prompt_tokens}, {FLAGS.new_tokens} new tokens, keras {keras.__version__}"
    )
    print("| implementation | batch | new tokens/s | same tokens as the other |")
    print("|---|---|---|---|")
    for name, batch, speed, same in rows:
        print(f"| {name} | {batch} | {speed:,.0f} | {same} |")


if __name__ == "__main__":
    app.run(main)

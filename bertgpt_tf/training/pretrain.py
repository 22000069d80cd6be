"""`--task=mlm|electra|distill|clm`: pretraining a BERT encoder or a GPT decoder.

`prepare_pretraining` (seed, run dir, the `--teacher` run) -> `run_train.py` builds the
inputs (vocabulary, tokenizer, tf.data: `pipelines.task_data.pretraining_inputs`) ->
`pretrain`: the task's model built and compiled under the strategy, `model.fit`
(resuming from the run's backup), `model.keras` and `results.json` in the run dir.
"""

import json
import os

import keras
from absl import logging

from bertgpt_tf.atomic_file import write_json
from bertgpt_tf.config import Config
from bertgpt_tf.tasks.build_model import build_model, resolve_teacher
from bertgpt_tf.training.callbacks import global_step
from bertgpt_tf.training.fit import start_run, train_from_config


def prepare_pretraining(config: Config) -> Config:
    """`start_run` (seed, run dir), then the teacher's sizes and vocabulary for
    `--task=distill`, and the tokenizer kind resolved."""
    config = start_run(config)
    if config.train.task == "distill":
        config = resolve_teacher(config)
    return config.replace(tokenizer=config.tokenizer_kind)


def pretrain(config: Config, tokenizer, fit_data: dict, stats=None, prompts=()) -> dict:
    """Fits the task's model on `fit_data` (`train_from_config`: config.json, model.keras),
    writes and returns results.json (steps, tokens/s, the history and `stats`' count of
    skipped lines). `prompts`: clm sample prompts for TensorBoard."""
    if config.train.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model, history, monitor = train_from_config(
        config, build_model, fit_data, lambda m: _task_callbacks(config, m, tokenizer, prompts)
    )
    results = {
        "steps": global_step(model),
        "tokens_per_second": monitor.mean_tokens_per_second(),
        "history": {k: [float(x) for x in v] for k, v in history.history.items()},
        "skipped_lines": stats.result() if stats else {},
    }
    write_json(os.path.join(config.train.model_dir, "results.json"), results, indent=2)
    logging.info("results: %s", json.dumps({k: v for k, v in results.items() if k != "history"}))
    return results


def _task_callbacks(config: Config, model, tokenizer, prompts=()) -> tuple:
    """clm: perplexity in the logs and generated samples in TensorBoard at each epoch."""
    if config.train.task != "clm":
        return ()
    from bertgpt_tf.export.clm_serving import CausalLMServing
    from bertgpt_tf.training.callbacks import PerplexityLogger, SampleTextLogger

    module = CausalLMServing(
        model.decoder, tokenizer, min(64, model.decoder.max_sequence_length // 2)
    )
    prompts = list(prompts or ["\n", "The ", "ROMEO:"])

    def samples():
        return module.complete(prompts, max_new_tokens=64, temperature=0.8, top_k=40)

    log_dir = os.path.join(config.train.model_dir, "logs")
    return PerplexityLogger(), SampleTextLogger(log_dir, samples)

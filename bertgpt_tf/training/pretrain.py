"""`--task=mlm|electra|distill|clm`: pretraining a BERT encoder or a GPT decoder.

`prepare_pretraining` (seed, run dir, the `--teacher` run) -> `run_train.py` builds the
inputs (vocabulary, tokenizer, tf.data: `pipelines.task_data.pretraining_inputs`) ->
`pretrain`: the task's model built and compiled under the strategy, `model.fit`
(resuming from the run's backup), `model.keras` and `results.json` in the run dir.
"""

import json
import os

from absl import logging

from bertgpt_tf.atomic_file import write_json
from bertgpt_tf.checkpoints.import_checkpoint import as_run_dir
from bertgpt_tf.config import Config
from bertgpt_tf.tasks.build_model import build_model, resolve_teacher
from bertgpt_tf.training.callbacks import global_step
from bertgpt_tf.training.fit import precision_policy, start_run, train_from_config


def prepare_pretraining(config: Config) -> Config:
    """`start_run` (seed, run dir), then the teacher's sizes and vocabulary for
    `--task=distill`, or for `--task=mlm|clm --init_from=<run or checkpoint dir>` (continued
    pretraining) the starting run's sizes, vocabulary and objectives; and the tokenizer
    kind resolved."""
    config = start_run(config)
    if config.train.task == "distill":
        config = resolve_teacher(config)
    elif config.train.init_from not in ("", "none"):
        config = resolve_continued(config)
    return config.replace(tokenizer=config.tokenizer_kind)


def resolve_continued(config: Config) -> Config:
    """`--task=mlm|clm --init_from=<dir>`: a published checkpoint is imported first (into
    `<model_dir>/init_from`); the run keeps the starting run's sizes, vocabulary, casing,
    normalization, pair objective and head tying, so `build_model` can load it."""
    task = config.train.task
    if task not in ("mlm", "clm"):
        raise ValueError(f"--init_from continues pretraining for --task=mlm|clm, not {task}")
    source = as_run_dir(config.train.init_from, config.train.model_dir)
    start = Config.from_json(os.path.join(source, "config.json"))
    if start.train.task != task:
        raise ValueError(
            f"--init_from={source} is a {start.train.task!r} run; --task={task} needs a {task} run"
        )
    sizes = {k: v for k, v in start.to_dict()["model"].items() if k != "dropout"}
    d = start.data
    return config.replace(
        **sizes, init_from=source, export_name=config.export_name_after(start),
        tokenizer=start.tokenizer_kind, vocabulary=d.vocabulary,
        lower_case=d.lower_case, normalization=d.normalization, pair_objective=d.pair_objective,
    )  # fmt: skip


def pretrain(config: Config, tokenizer, fit_data: dict, stats=None, prompts=()) -> dict:
    """Fits the task's model on `fit_data` (`train_from_config`: config.json, model.keras),
    writes and returns results.json (steps, tokens/s, the history and `stats`' count of
    skipped lines). `prompts`: clm sample prompts for TensorBoard."""
    before = {}

    def callbacks_for(model):
        if config.train.init_from not in ("", "none"):  # the starting weights, held out
            before.update(_held_out(model, fit_data))
            logging.info("held-out before continued pretraining: %s", before)
        return _task_callbacks(config, model, tokenizer, prompts)

    with precision_policy(config.train.mixed_precision):
        model, history, monitor = train_from_config(config, build_model, fit_data, callbacks_for)
    results = {
        "before": before,
        "steps": global_step(model),
        "tokens_per_second": monitor.mean_tokens_per_second(),
        "history": {k: [float(x) for x in v] for k, v in history.history.items()},
        "skipped_lines": stats.result() if stats else {},
    }
    write_json(os.path.join(config.train.model_dir, "results.json"), results, indent=2)
    logging.info("results: %s", json.dumps({k: v for k, v in results.items() if k != "history"}))
    return results


def _held_out(model, fit_data: dict) -> dict:
    """The model's validation metrics (`validation_steps` batches) as they are now."""
    metrics = model.evaluate(
        fit_data["validation_data"], steps=fit_data["validation_steps"] or None,
        return_dict=True, verbose=0,
    )  # fmt: skip
    return {f"val_{k}": float(v) for k, v in metrics.items()}


def _task_callbacks(config: Config, model, tokenizer, prompts=()) -> tuple:
    """clm: perplexity in the logs and generated samples in TensorBoard at each epoch."""
    if config.train.task != "clm":
        return ()
    from bertgpt_tf.export.clm_serving import CausalLMServing
    from bertgpt_tf.training.callbacks import PerplexityLogger, SampleTextLogger

    module = CausalLMServing(
        model.backbone, tokenizer, min(64, model.backbone.max_sequence_length // 2)
    )
    prompts = list(prompts or ["\n", "The ", "ROMEO:"])

    def samples():
        return module.complete(prompts, max_new_tokens=64, temperature=0.8, top_k=40)

    log_dir = os.path.join(config.train.model_dir, "logs")
    return PerplexityLogger(), SampleTextLogger(log_dir, samples)

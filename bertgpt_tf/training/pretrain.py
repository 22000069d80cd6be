"""`--task=mlm|electra|distill|clm`: pretraining a BERT encoder or a GPT decoder.

`run_pretraining`: `prepare_pretraining` (seed, run dir, the `--teacher` or starting
run) -> the inputs (`make_inputs`, which `run_train.py` gives: vocabulary, tokenizer,
tf.data, `pipelines.task_data.pretraining_inputs`) -> `pretrain`: the task's model
(`build_model`) through `train_from_config` (config.json, `model.fit` under the strategy,
resuming from the run's backup), `model.keras` and `results.json` in the run dir ->
export.
"""

import json
import os

from absl import logging

from bertgpt_tf.atomic_file import write_json
from bertgpt_tf.checkpoints.import_checkpoint import as_run_dir
from bertgpt_tf.config import Config
from bertgpt_tf.tasks.build_model import build_model, resolve_teacher
from bertgpt_tf.training.callbacks import global_step
from bertgpt_tf.training.fit import save_model, start_run, train_from_config
from bertgpt_tf.training.task_inputs import TaskInputs


def run_pretraining(
    config: Config, make_inputs, export_base: str = "saved_models", version=None, prompts=()
) -> str:
    """The whole run: `prepare_pretraining` -> `make_inputs(config)` (a `TaskInputs`) ->
    `pretrain` -> the SavedModel; returns its path."""
    from bertgpt_tf.export.from_run import export_run

    config = prepare_pretraining(config)
    config = pretrain(config, make_inputs(config), prompts)[0]
    return export_run(config, export_base, version)


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


def pretrain(config: Config, inputs: TaskInputs, prompts=()) -> tuple[Config, dict]:
    """Fits the task's model on `inputs` (`train_from_config`: config.json), saves
    model.keras, writes results.json (steps, tokens/s, the history, the count of skipped
    lines) and returns (the run config, results). `prompts`: clm sample prompts for
    TensorBoard."""
    before = {}

    def callbacks_for(model):
        if config.train.init_from not in ("", "none"):  # the starting weights, held out
            before.update(_held_out(model, inputs))
            logging.info("held-out before continued pretraining: %s", before)
        return _task_callbacks(config, model, inputs.tokenizer, prompts)

    config, model, history, monitor = train_from_config(config, inputs, build_model, callbacks_for)
    save_model(model, os.path.join(config.train.model_dir, "model.keras"))
    results = {
        "before": before,
        "steps": global_step(model),
        "tokens_per_second": monitor.mean_tokens_per_second(),
        "history": {k: [float(x) for x in v] for k, v in history.history.items()},
        "skipped_lines": inputs.line_stats.result() if inputs.line_stats else {},
    }
    write_json(os.path.join(config.train.model_dir, "results.json"), results, indent=2)
    logging.info("results: %s", json.dumps({k: v for k, v in results.items() if k != "history"}))
    return config, results


def _held_out(model, inputs: TaskInputs) -> dict:
    """The model's validation metrics (`validation_steps` batches) as they are now."""
    metrics = model.evaluate(
        inputs.validation, steps=inputs.validation_steps or None, return_dict=True, verbose=0
    )
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

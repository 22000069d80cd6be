"""Each task's run, from a resolved config: its inputs (this package) -> the library's
trainer -> evaluation -> export. `run_train.py` maps `--task` to these; the library
itself never imports `pipelines`."""

import os

from absl import logging

from bertgpt_tf.config import Config


def run_vocab(config: Config) -> str:
    from bertgpt_tf.training.fit import resolve_run_dir
    from pipelines.task_data import pretraining_vocabulary

    run_dir = resolve_run_dir(config.train.model_dir, "vocab")
    return pretraining_vocabulary(config.replace(model_dir=run_dir))


def run_pretraining(config: Config, export_base: str, version=None, prompts=()) -> str:
    """Run dir -> vocabulary, tokenizer, tf.data -> the model fit in the strategy -> export."""
    from bertgpt_tf.training.pretrain import prepare_pretraining, pretrain
    from pipelines.sanitize import LineStats
    from pipelines.task_data import pretraining_inputs

    stats = LineStats()
    config, tokenizer, fit_data = pretraining_inputs(prepare_pretraining(config), stats)
    pretrain(config, tokenizer, fit_data, stats, prompts)
    return run_export(config, export_base, version)


def run_export(config: Config, export_base: str, version=None) -> str:
    from bertgpt_tf.export.from_run import export_run

    path = export_run(config, export_base, version)
    logging.info("exported %s", path)
    return path


def run_finetune(config: Config, export_base: str) -> str:
    """Fine-tune (bertgpt_tf.training.finetune): fit, test, eval.json, export."""
    from bertgpt_tf.training.finetune import finetune, prepare_finetuning
    from pipelines.task_data import finetune_inputs

    config, data, tokenizer, datasets = finetune_inputs(prepare_finetuning(config))
    return finetune(
        config, tokenizer, datasets, {k: len(v) for k, v in data.splits.items()}, data.test_targets,
        data.label_names, data.pair, export_base,
    )  # fmt: skip


def run_evaluate(config: Config) -> str:
    """Re-test a finished fine-tuning run (--model_dir) on its test split: eval.json/.md."""
    from bertgpt_tf.training.finetune import prepare_finetuning, reevaluate
    from pipelines.task_data import finetune_inputs

    if not os.path.exists(os.path.join(config.train.model_dir, "eval.json")):
        raise FileNotFoundError(
            f"--model_dir={config.train.model_dir!r}: no finished fine-tuning run"
        )
    config, data, _, datasets = finetune_inputs(prepare_finetuning(config, fresh_run=False))
    return reevaluate(config, datasets["test"], data.test_targets, data.label_names)


def run_translate(config: Config, export_base: str, version: int | None = None) -> str:
    """Encoder-decoder on parallel text (bertgpt_tf.training.translate): fit, BLEU, export."""
    from bertgpt_tf.training.fit import start_run
    from bertgpt_tf.training.translate import translate
    from pipelines.task_data import translation_inputs
    from pipelines.translation_dataset import SPLITS

    config, splits, tokenizers, fit_data = translation_inputs(start_run(config))
    return translate(config, splits, tokenizers, fit_data, SPLITS["test"], export_base, version)


def run_report(config: Config) -> str:
    """Markdown table of fine-tuning runs (--model_dir=a,b,...), with the TF-IDF +
    logistic-regression floor for each classification dataset among them."""
    from bertgpt_tf.evaluation.eval_report import read_eval, report_table
    from pipelines.task_files import load_task_data

    reports = [(run_dir, read_eval(run_dir)) for run_dir in config.train.model_dir.split(",")]
    names = sorted({r["dataset"] for _, r in reports if r["task"] == "classify"})
    # a dataset is a name under the data dir, or a file (--train_data)
    data = {
        n: load_task_data("classify", *(("", n) if os.path.exists(n) else (n, ""))) for n in names
    }
    return report_table(reports, data)

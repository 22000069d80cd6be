"""The tasks that train nothing: a vocabulary, a re-test, a report.
`run_train.py` maps `--task` to these, and the training tasks straight to the library's
`run_pretraining` / `run_finetuning` / `run_translation` with this package's inputs
(`task_data`); the library itself never imports `pipelines`."""

import os

from bertgpt_tf.config import Config


def run_vocab(config: Config) -> str:
    from bertgpt_tf.training.fit import resolve_run_dir
    from pipelines.task_data import pretraining_vocabulary

    run_dir = resolve_run_dir(config.train.model_dir, "vocab")
    return pretraining_vocabulary(config.replace(model_dir=run_dir))


def run_evaluate(config: Config) -> str:
    """Re-test a finished fine-tuning run (--model_dir) on its test split: eval.json/.md."""
    from bertgpt_tf.training.finetune import prepare_finetuning, reevaluate
    from pipelines.task_data import finetune_inputs

    if not os.path.exists(os.path.join(config.train.model_dir, "eval.json")):
        raise FileNotFoundError(
            f"--model_dir={config.train.model_dir!r}: no finished fine-tuning run"
        )
    config = prepare_finetuning(config, fresh_run=False)
    return reevaluate(config, finetune_inputs(config))


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

"""Train, export and inspect bertgpt_tf models.

    python run_train.py --task=vocab                # WordPiece vocabulary from the corpus
    python run_train.py --task=mlm --preset=mini    # BERT pretraining, then export
    python run_train.py --task=export --model_dir=runs/mlm-...
    python run_train.py --task=fill_mask --model_dir=runs/mlm-... --prompt="paris is the [MASK]."
    python run_train.py --task=clm --preset=mini             # GPT pretraining, then export
    python run_train.py --task=generate --model_dir=runs/clm-... --prompt="Once upon"
    python run_train.py --task=translate --preset=mini       # Multi30k en->de, BLEU, export

Every field of `bertgpt_tf.config` is a flag of the same name (`--num_layers`,
`--sequence_length`, `--batch_size`, ...); flags override the preset.
"""

import os
import sys

from absl import app, flags, logging

from bertgpt_tf.config import Config, config_fields

_FLAG_TYPES = {
    "int": flags.DEFINE_integer,
    "float": flags.DEFINE_float,
    "bool": flags.DEFINE_boolean,
}
for _name, _field in config_fields().items():  # field.type is a string (PEP 563)
    _define = _FLAG_TYPES.get(_field.type, flags.DEFINE_string)
    _define(_name, None, f"config field (default {_field.default!r})")
flags.DEFINE_integer("export_version", None, "SavedModel version to write (default: next free)")
flags.DEFINE_string("export_base", "saved_models", "TF Serving model base directory")
flags.DEFINE_multi_string("prompt", None, "fill_mask / generate input text (repeatable)")
flags.DEFINE_integer("max_new_tokens", 100, "--task=generate: tokens to add")
flags.DEFINE_float("temperature", 0.0, "--task=generate: 0 = greedy")
flags.DEFINE_integer("top_k", 0, "--task=generate: sample from the k best (0 = all)")
flags.DEFINE_float("top_p", 1.0, "--task=generate: nucleus mass (1 = all)")
flags.DEFINE_integer("sample_seed", 0, "--task=generate: sampling seed")
FLAGS = flags.FLAGS


def load_config() -> Config:
    """Flags over the preset, or over the run's own config.json when --model_dir has one
    (resume, export, fill_mask): then the run keeps its training task."""
    overrides = {n: FLAGS[n].value for n in config_fields() if FLAGS[n].value is not None}
    run_config = os.path.join(overrides.get("model_dir", ""), "config.json")
    if overrides.get("model_dir") and os.path.exists(run_config):
        overrides.pop("task", None)
        return Config.from_json(run_config).replace(**overrides)
    return Config.from_preset(overrides.pop("preset", "mini"), **overrides)


def run_vocab(config: Config) -> str:
    from bertgpt_tf.training.fit import resolve_run_dir
    from pipelines.task_data import pretraining_vocabulary

    run_dir = resolve_run_dir(config.train.model_dir, "vocab")
    return pretraining_vocabulary(config.replace(model_dir=run_dir))


def run_pretraining(config: Config) -> str:
    """Run dir -> vocabulary, tokenizer, tf.data -> the model fit in the strategy -> export."""
    from bertgpt_tf.training.pretrain import prepare_pretraining, pretrain
    from pipelines.sanitize import LineStats
    from pipelines.task_data import pretraining_inputs

    stats = LineStats()
    config, tokenizer, fit_data = pretraining_inputs(prepare_pretraining(config), stats)
    pretrain(config, tokenizer, fit_data, stats, FLAGS.prompt)
    return run_export(config)


def run_export(config: Config) -> str:
    from bertgpt_tf.export.from_run import export_run

    path = export_run(config, FLAGS.export_base, FLAGS.export_version)
    logging.info("exported %s", path)
    return path


def run_import(config: Config) -> str:
    from bertgpt_tf.export.from_run import import_run

    return import_run(config, FLAGS.export_base, FLAGS.export_version)


def run_fill_mask(config: Config) -> str:
    from bertgpt_tf.export.from_run import fill_mask_report

    return fill_mask_report(config, FLAGS.prompt or ["the capital of france is [MASK]."])


def run_generate(config: Config) -> str:
    from bertgpt_tf.export.from_run import generate_report

    return generate_report(
        config, FLAGS.prompt or ["\n"], max_new_tokens=FLAGS.max_new_tokens,
        temperature=FLAGS.temperature, top_k=FLAGS.top_k, top_p=FLAGS.top_p, seed=FLAGS.sample_seed,
    )  # fmt: skip


def run_finetune(config: Config, export_base: str = "") -> str:
    """Fine-tune (bertgpt_tf.training.finetune): fit, test, eval.json, export."""
    from bertgpt_tf.training.finetune import finetune, prepare_finetuning
    from pipelines.task_data import finetune_inputs

    config, data, tokenizer, datasets = finetune_inputs(prepare_finetuning(config))
    return finetune(
        config, tokenizer, datasets, {k: len(v) for k, v in data.splits.items()}, data.test_targets,
        data.label_names, data.pair, export_base or FLAGS.export_base,
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


def run_translate(config: Config, export_base: str = "", version: int | None = None) -> str:
    """Encoder-decoder on parallel text (bertgpt_tf.training.translate): fit, BLEU, export."""
    from bertgpt_tf.training.fit import start_run
    from bertgpt_tf.training.translate import translate
    from pipelines.task_data import translation_inputs
    from pipelines.translation_dataset import SPLITS

    if not export_base:  # from the command line
        export_base, version = FLAGS.export_base, FLAGS.export_version
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


TASKS = {
    "vocab": run_vocab,
    "import": run_import,
    "report": run_report,
    "evaluate": run_evaluate,
    "classify": run_finetune,
    "regress": run_finetune,
    "embed": run_finetune,
    "ner": run_finetune,
    "mlm": run_pretraining,
    "electra": run_pretraining,
    "distill": run_pretraining,
    "clm": run_pretraining,
    "export": run_export,
    "fill_mask": run_fill_mask,
    "generate": run_generate,
    "translate": run_translate,
}


def main(argv):
    del argv
    task = FLAGS.task or "mlm"
    if task not in TASKS:
        raise app.UsageError(f"--task must be one of {sorted(TASKS)}, got {task!r}")
    try:
        print(TASKS[task](load_config()))
    # Bad input or config, a disk or permission fault (OSError: full disk, a folder
    # given for a file...), a diverged run: the message says what and where.
    except (ValueError, OSError, FloatingPointError) as e:
        logging.debug("traceback", exc_info=True)  # shown with --verbosity=1
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    app.run(main)

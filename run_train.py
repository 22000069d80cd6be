"""Train, export and inspect bertgpt_tf models.

    python run_train.py --task=vocab                # WordPiece vocabulary from the corpus
    python run_train.py --task=mlm --preset=mini    # BERT pretraining, then export
    python run_train.py --task=export --model_dir=runs/mlm-...
    python run_train.py --task=fill_mask --model_dir=runs/mlm-... --prompt="paris is the [MASK]."
    python run_train.py --task=clm --preset=mini             # GPT pretraining, then export
    python run_train.py --task=generate --model_dir=runs/clm-... --prompt="Once upon"
    python run_train.py --task=translate --preset=mini       # Multi30k en->de, BLEU, export

Every `bertgpt_tf.config` field is a flag of the same name; flags override the preset.
"""

import os
import sys

from absl import app, flags, logging

from bertgpt_tf.config import Config, config_fields, fields_ignored_by
from pipelines import tasks

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


def _export_to() -> tuple[str, int | None]:
    return FLAGS.export_base, FLAGS.export_version


def _exporting(name: str):
    """The task running `bertgpt_tf.export.from_run.<name>(config, export_base, version)`."""

    def run(config: Config) -> str:
        from bertgpt_tf.export import from_run

        return getattr(from_run, name)(config, *_export_to())

    return run


def run_fill_mask(config: Config) -> str:
    from bertgpt_tf.export.from_run import fill_mask_report

    return fill_mask_report(config, FLAGS.prompt or ["the capital of france is [MASK]."])


def run_generate(config: Config) -> str:
    from bertgpt_tf.export.from_run import generate_report

    return generate_report(
        config, FLAGS.prompt or ["\n"], max_new_tokens=FLAGS.max_new_tokens,
        temperature=FLAGS.temperature, top_k=FLAGS.top_k, top_p=FLAGS.top_p, seed=FLAGS.sample_seed,
    )  # fmt: skip


def run_pretraining(config: Config) -> str:
    from bertgpt_tf.training.pretrain import run_pretraining
    from pipelines.task_data import pretraining_inputs

    return run_pretraining(config, pretraining_inputs, *_export_to(), FLAGS.prompt or ())


def run_finetuning(config: Config) -> str:
    from bertgpt_tf.training.finetune import run_finetuning
    from pipelines.task_data import finetune_inputs

    return run_finetuning(config, finetune_inputs, *_export_to())


def run_translation(config: Config) -> str:
    from bertgpt_tf.training.translate import run_translation
    from pipelines.task_data import translation_inputs

    return run_translation(config, translation_inputs, *_export_to())


TASKS = {
    "vocab": tasks.run_vocab,
    "import": _exporting("import_run"),
    "report": tasks.run_report,
    "evaluate": tasks.run_evaluate,
    **dict.fromkeys(("classify", "regress", "embed", "ner"), run_finetuning),
    **dict.fromkeys(("mlm", "electra", "distill", "clm"), run_pretraining),
    "export": _exporting("export_run"),
    "fill_mask": run_fill_mask,
    "generate": run_generate,
    "translate": run_translation,
}  # fmt: skip


# run_train's own flags that only some tasks read.
_FLAG_TASKS = {
    **dict.fromkeys(("max_new_tokens", "temperature", "top_k", "top_p", "sample_seed"),
                    ("generate",)),
    "prompt": ("fill_mask", "generate", "mlm", "clm"),  # mlm/clm: TensorBoard samples
}  # fmt: skip


def _warn_ignored_flags(task: str) -> None:
    """One warning per flag given on the command line that `task` does not read."""
    given = [name for name in FLAGS if FLAGS[name].present]
    ignored = fields_ignored_by(task, [n for n in given if n in config_fields()])
    ignored += [n for n in given if task not in _FLAG_TASKS.get(n, (task,))]
    for name in ignored:
        logging.warning("--%s does not apply to --task=%s: ignored", name, task)


def main(argv):
    del argv
    task = FLAGS.task or "mlm"
    if task not in TASKS:
        raise app.UsageError(f"--task must be one of {sorted(TASKS)}, got {task!r}")
    try:
        _warn_ignored_flags(task)
        print(TASKS[task](load_config()))
    # Bad input or config, a disk or permission fault (OSError: full disk, a folder
    # given for a file...), a diverged run: the message says what and where.
    except (ValueError, OSError, FloatingPointError) as e:
        logging.debug("traceback", exc_info=True)  # shown with --verbosity=1
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    app.run(main)

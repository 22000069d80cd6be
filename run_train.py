"""Train, export and inspect bertgpt_tf models.

    python run_train.py --task=vocab                # WordPiece vocabulary from the corpus
    python run_train.py --task=mlm --preset=mini    # BERT pretraining, then export
    python run_train.py --task=export --model_dir=runs/mlm-...
    python run_train.py --task=fill_mask --model_dir=runs/mlm-... --prompt="paris is the [MASK]."

Every field of `bertgpt_tf.config` is a flag of the same name (`--num_layers`,
`--sequence_length`, `--batch_size`, ...); flags override the preset.
"""

import dataclasses
import json
import os

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
flags.DEFINE_multi_string("prompt", None, "--task=fill_mask: text with [MASK] (repeatable)")
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
    from pipelines.sources import resolve_text_files
    from pipelines.vocabulary import ensure_vocabulary

    d = config.data
    run_dir = resolve_run_dir(config.train.model_dir, "vocab")
    files = resolve_text_files(d.train_data, d.data_dir)
    return ensure_vocabulary(
        run_dir, files, d.vocabulary, d.vocabulary_size_target, d.vocabulary_max_bytes,
        d.lower_case, d.validation_fraction,
    )  # fmt: skip


def run_mlm(config: Config) -> str:
    import keras

    from bertgpt_tf.models.bert_encoder import BertEncoder
    from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer
    from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer
    from bertgpt_tf.training.callbacks import global_step
    from bertgpt_tf.training.fit import fit, make_strategy, resolve_run_dir, resume_step
    from bertgpt_tf.training.optimizer import make_optimizer
    from pipelines.mlm_dataset import count_batches, make_mlm_dataset
    from pipelines.sanitize import LineStats
    from pipelines.sources import resolve_text_files

    d, t = config.data, config.train
    run_dir = resolve_run_dir(t.model_dir, "mlm")
    files = resolve_text_files(d.train_data, d.data_dir)
    vocabulary = run_vocab(config.replace(model_dir=run_dir))
    tokenizer = WordPieceTokenizer(vocabulary, lower_case=d.lower_case)
    config = config.replace(
        vocabulary=vocabulary, vocabulary_size=tokenizer.vocabulary_size, model_dir=run_dir
    )
    config.to_json(os.path.join(run_dir, "config.json"))
    keras.utils.set_random_seed(t.seed)
    if t.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")

    stats = LineStats()
    data_args = dict(
        tokenizer=tokenizer, batch_size=t.batch_size, sequence_length=d.sequence_length,
        max_predictions_per_seq=d.max_predictions_per_seq, mask_rate=d.mask_rate,
        pair_objective=d.pair_objective, whole_word_masking=d.whole_word_masking,
        validation_fraction=d.validation_fraction, shuffle_buffer=d.shuffle_buffer,
        max_line_bytes=d.max_line_bytes, seed=t.seed,
    )  # fmt: skip
    if t.epochs:  # passes over the data -> a step budget
        one_pass = make_mlm_dataset(files, split="train", repeat=False, **data_args)
        config = config.replace(steps=t.epochs * count_batches(one_pass))
        config.to_json(os.path.join(run_dir, "config.json"))
        t = config.train
    train_data = make_mlm_dataset(files, split="train", stats=stats, **data_args)
    train_data = train_data.skip(resume_step(run_dir, t.steps_per_epoch))
    validation_data, validation_steps = None, 0
    if t.validation_steps:  # fixed examples and masks, so validations are comparable
        validation_data = make_mlm_dataset(files, split="validation", **data_args)
        validation_data = validation_data.take(t.validation_steps).cache()
        validation_steps = sum(1 for _ in validation_data)  # also fills the cache
        if validation_steps < t.validation_steps:
            logging.warning(
                "held-out documents give %d of %d validation batches%s", validation_steps,
                t.validation_steps, "" if validation_steps else ": raise --validation_fraction",
            )  # fmt: skip
        # Keras keeps one validation iterator across epochs: repeat the cached batches so
        # every validation reads the same `validation_steps` batches.
        validation_data = validation_data.repeat() if validation_steps else None

    with make_strategy().scope():
        model = BertPretrainer(BertEncoder(**dataclasses.asdict(config.model)), d.pair_objective)
        optimizer = make_optimizer(
            t.learning_rate, t.warmup_steps, t.steps, t.decay, t.weight_decay
        )
        model.compile(optimizer, jit_compile=t.jit_compile)
    history, monitor = fit(
        model, train_data, validation_data, run_dir, t.steps, t.steps_per_epoch, t.batch_size,
        d.sequence_length, validation_steps, t.checkpoint_every, t.max_minutes,
    )  # fmt: skip
    model.save(os.path.join(run_dir, "model.keras"))
    results = {
        "steps": global_step(model),
        "tokens_per_second": monitor.mean_tokens_per_second(),
        "history": {k: [float(x) for x in v] for k, v in history.history.items()},
        "skipped_lines": stats.result(),
    }
    with open(os.path.join(run_dir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    logging.info("results: %s", json.dumps({k: v for k, v in results.items() if k != "history"}))
    return run_export(config)


def run_export(config: Config) -> str:
    from bertgpt_tf.export.from_run import export_run

    path = export_run(config, FLAGS.export_base, FLAGS.export_version)
    logging.info("exported %s", path)
    return path


def run_fill_mask(config: Config) -> str:
    from bertgpt_tf.export.from_run import fill_mask_report

    return fill_mask_report(config, FLAGS.prompt or ["the capital of france is [MASK]."])


TASKS = {"vocab": run_vocab, "mlm": run_mlm, "export": run_export, "fill_mask": run_fill_mask}


def main(argv):
    del argv
    task = FLAGS.task or "mlm"
    if task not in TASKS:
        raise app.UsageError(f"--task must be one of {sorted(TASKS)}, got {task!r}")
    print(TASKS[task](load_config()))


if __name__ == "__main__":
    app.run(main)

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

import json
import os
import sys

from absl import app, flags, logging

from bertgpt_tf.config import ENCODER_PRETRAINING, Config, config_fields

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
    from pipelines.sources import resolve_text_files
    from pipelines.vocabulary import ensure_vocabulary

    d = config.data
    run_dir = resolve_run_dir(config.train.model_dir, "vocab")
    files = resolve_text_files(d.train_data, d.data_dir)
    return ensure_vocabulary(
        run_dir, files, config.tokenizer_kind, d.vocabulary, d.vocabulary_size_target,
        d.vocabulary_max_bytes, d.lower_case, d.validation_fraction,
        masked_lm=config.train.task in ENCODER_PRETRAINING,
    )  # fmt: skip


def run_pretraining(config: Config) -> str:
    """vocabulary -> tokenizer -> datasets -> model (in the strategy scope) -> fit -> export."""
    import keras

    from bertgpt_tf.tasks.build_model import build_model, resolve_teacher
    from bertgpt_tf.tokenizers.load_tokenizer import load_tokenizer
    from bertgpt_tf.training.callbacks import global_step
    from bertgpt_tf.training.fit import fit, make_strategy, resolve_run_dir, resume_step
    from bertgpt_tf.training.optimizer import make_optimizer
    from pipelines.sanitize import LineStats
    from pipelines.sources import resolve_text_files
    from pipelines.task_data import count_batches, make_datasets

    d, t = config.data, config.train
    # Seed first: tf.random.set_seed clears eager kernels, which would delete the
    # SentencePiece tokenizer's resource if it already existed.
    keras.utils.set_random_seed(t.seed)
    run_dir = resolve_run_dir(t.model_dir, t.task)
    files = resolve_text_files(d.train_data, d.data_dir)
    if t.task == "distill":
        config = resolve_teacher(config)
    config = config.replace(tokenizer=config.tokenizer_kind, model_dir=run_dir)
    vocabulary = run_vocab(config)
    tokenizer = load_tokenizer(config.data.tokenizer, vocabulary, config.data.lower_case)
    config = config.replace(vocabulary=vocabulary, vocabulary_size=tokenizer.vocabulary_size)
    if t.epochs:  # passes over the data -> a step budget
        one_pass = make_datasets(config, files, tokenizer, repeat=False)[0]
        config = config.replace(steps=t.epochs * count_batches(one_pass))
    config.to_json(os.path.join(run_dir, "config.json"))
    t = config.train
    if t.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")

    stats = LineStats()
    train_data, validation_data, validation_steps = make_datasets(config, files, tokenizer, stats)
    train_data = train_data.skip(resume_step(run_dir, t.steps_per_epoch))
    with make_strategy().scope():
        model = build_model(config)
        optimizer = make_optimizer(
            t.learning_rate, t.warmup_steps, t.steps, t.decay, t.weight_decay, t.beta_2
        )
        model.compile(optimizer, jit_compile=t.jit_compile)
    history, monitor = fit(
        model, train_data, validation_data, run_dir, t.steps, t.steps_per_epoch, t.batch_size,
        d.sequence_length, validation_steps, t.checkpoint_every, t.max_minutes,
        extra_callbacks=task_callbacks(config, model, tokenizer, run_dir),
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


def task_callbacks(config: Config, model, tokenizer, run_dir: str) -> tuple:
    """clm: perplexity in the logs and generated samples in TensorBoard at each epoch."""
    if config.train.task != "clm":
        return ()
    from bertgpt_tf.export.clm_serving import CausalLMServing
    from bertgpt_tf.training.callbacks import PerplexityLogger, SampleTextLogger

    module = CausalLMServing(
        model.decoder, tokenizer, min(64, model.decoder.max_sequence_length // 2)
    )
    prompts = FLAGS.prompt or ["\n", "The ", "ROMEO:"]

    def samples():
        return module.complete(prompts, max_new_tokens=64, temperature=0.8, top_k=40)

    return PerplexityLogger(), SampleTextLogger(os.path.join(run_dir, "logs"), samples)


def run_export(config: Config) -> str:
    from bertgpt_tf.export.from_run import export_run

    path = export_run(config, FLAGS.export_base, FLAGS.export_version)
    logging.info("exported %s", path)
    return path


def run_fill_mask(config: Config) -> str:
    from bertgpt_tf.export.from_run import fill_mask_report

    return fill_mask_report(config, FLAGS.prompt or ["the capital of france is [MASK]."])


def run_generate(config: Config) -> str:
    from bertgpt_tf.export.from_run import generate_report

    return generate_report(
        config, FLAGS.prompt or ["\n"], max_new_tokens=FLAGS.max_new_tokens,
        temperature=FLAGS.temperature, top_k=FLAGS.top_k, top_p=FLAGS.top_p, seed=FLAGS.sample_seed,
    )  # fmt: skip


def finetune_inputs(config: Config, fresh_run: bool = True):
    """(config, data, tokenizer, datasets) of a fine-tuning task: splits -> vocabulary
    (the --init_from run's, or trained on the training texts) -> tokenizer -> tf.data.
    `fresh_run=False` (evaluate) keeps the run's own directory, vocabulary and sizes."""
    import keras

    from bertgpt_tf.tokenizers.load_tokenizer import load_tokenizer
    from bertgpt_tf.training.finetune import resolve_init_from
    from bertgpt_tf.training.fit import resolve_run_dir
    from pipelines.finetune_dataset import finetune_datasets
    from pipelines.task_files import DEFAULT_DATASET, load_ner_data, load_task_data
    from pipelines.vocabulary import vocabulary_from_texts

    keras.utils.set_random_seed(config.train.seed)
    d, t = config.data, config.train
    if fresh_run:
        config = config.replace(model_dir=resolve_run_dir(t.model_dir, t.task))
        config = resolve_init_from(config)
    if t.task == "ner":
        data = load_ner_data(d.train_data, d.data_dir, t.seed)
        texts = [" ".join(words) for words in data.splits["train"].words]
    else:
        data = load_task_data(
            t.task, d.dataset, d.train_data, d.data_dir, d.text_column, d.text_b_column,
            d.label_column, t.seed,
        )  # fmt: skip
        texts = data.splits["train"].texts + (data.splits["train"].texts_b or [])
    if not d.train_data:  # name the dataset in the run's reports
        config = config.replace(dataset=d.dataset or DEFAULT_DATASET[t.task])
    vocabulary = config.data.vocabulary or vocabulary_from_texts(
        config.train.model_dir, texts, d.vocabulary_size_target, d.lower_case
    )
    tokenizer = load_tokenizer(config.tokenizer_kind, vocabulary, config.data.lower_case)
    config = config.replace(vocabulary=vocabulary, vocabulary_size=tokenizer.vocabulary_size)
    datasets = finetune_datasets(data, tokenizer, d.sequence_length, t.batch_size, t.seed,
                                 t.class_weights, t.task)  # fmt: skip
    return config, data, tokenizer, datasets


def run_finetune(config: Config, export_base: str = "") -> str:
    """Fine-tune (bertgpt_tf.training.finetune): fit, test, eval.json, export."""
    from bertgpt_tf.training.finetune import finetune

    config, data, tokenizer, datasets = finetune_inputs(config)
    return finetune(
        config, tokenizer, datasets, {k: len(v) for k, v in data.splits.items()}, data.test_targets,
        data.label_names, data.pair, export_base or FLAGS.export_base,
    )  # fmt: skip


def run_evaluate(config: Config) -> str:
    """Re-test a finished fine-tuning run (--model_dir) on its test split: eval.json/.md."""
    from bertgpt_tf.training.finetune import reevaluate

    if not os.path.exists(os.path.join(config.train.model_dir, "eval.json")):
        raise FileNotFoundError(
            f"--model_dir={config.train.model_dir!r}: no finished fine-tuning run"
        )
    config, data, _, datasets = finetune_inputs(config, fresh_run=False)
    return reevaluate(config, datasets["test"], data.test_targets, data.label_names)


def run_translate(config: Config) -> str:
    """Encoder-decoder on parallel text (bertgpt_tf.training.translate): fit, BLEU, export."""
    from bertgpt_tf.training.translate import translate

    return translate(config, FLAGS.export_base, FLAGS.export_version)


def run_report(config: Config) -> str:
    """Markdown table of fine-tuning runs (--model_dir=a,b,...), with the TF-IDF +
    logistic-regression floor for each classification dataset among them."""
    from bertgpt_tf.evaluation.tfidf_baseline import tfidf_logistic_regression
    from bertgpt_tf.training.finetune import eval_table, read_eval
    from pipelines.task_files import label_array, load_task_data

    reports = [(run_dir, read_eval(run_dir)) for run_dir in config.train.model_dir.split(",")]
    lines = [eval_table(reports), "", "| baseline | data | test |", "|---|---|---|"]
    for dataset in sorted({r["dataset"] for _, r in reports if r["task"] == "classify"}):
        is_file = os.path.exists(dataset)
        data = load_task_data("classify", "" if is_file else dataset, dataset if is_file else "")
        train, test = data.splits["train"], data.splits["test"]
        metrics = tfidf_logistic_regression(
            train.texts, label_array(train, data.labels), test.texts,
            label_array(test, data.labels), len(data.labels),
        )  # fmt: skip
        test_text = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        lines.append(f"| TF-IDF (1-2 grams) + logistic regression | {dataset} | {test_text} |")
    return "\n".join(lines)


TASKS = {
    "vocab": run_vocab,
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
    except (ValueError, FileNotFoundError) as e:  # bad input or config: the message says
        logging.debug("traceback", exc_info=True)  # shown with --verbosity=1
        sys.exit(f"error: {e}")


if __name__ == "__main__":
    app.run(main)

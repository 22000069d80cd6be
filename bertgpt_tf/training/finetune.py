"""Fine-tuning a pretrained (or fresh) encoder: `classify` and `regress`.

splits + labels -> tokenizer and encoder (from `--init_from`'s run, or new) -> the
method (full, `--freeze_layers`, `--lora_rank`) -> `model.fit` under the strategy with
early stopping on the validation metric (best weights restored) -> test metrics in
`eval.json` / `eval.md` -> a raw-text SavedModel.
"""

import json
import os
import time

import keras
from absl import logging

from bertgpt_tf.config import Config
from bertgpt_tf.evaluation.metrics import classification_metrics, regression_metrics
from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.tasks import bert_pretrainer  # noqa: F401  (registers classes)
from bertgpt_tf.tasks.text_classifier import (
    TextClassifier,
    count_parameters,
    enable_lora,
    freeze_layers,
    merge_lora,
)
from bertgpt_tf.tokenizers.load_tokenizer import load_tokenizer
from bertgpt_tf.training.fit import fit, make_strategy, resolve_run_dir
from bertgpt_tf.training.optimizer import make_optimizer
from pipelines.finetune_dataset import (
    inverse_frequency_weights,
    label_array,
    make_finetune_dataset,
)
from pipelines.task_files import DataError, label_set, load_splits
from pipelines.vocabulary import ensure_vocabulary

FINETUNE_TASKS = ("classify", "regress")


def starting_point(config: Config) -> tuple[Config, BertEncoder | None]:
    """`--init_from` run: its model sizes and vocabulary in `config`, and its encoder
    (None when training from scratch)."""
    source = config.train.init_from
    if source in ("", "none"):
        return config, None
    run_config_path = os.path.join(source, "config.json")
    model_path = os.path.join(source, "model.keras")
    if not os.path.exists(run_config_path) or not os.path.exists(model_path):
        raise DataError(f"--init_from={source!r} is not a finished pretraining run")
    pretrained = Config.from_json(run_config_path)
    if pretrained.train.task != "mlm":
        raise DataError(f"--init_from: {source} is a {pretrained.train.task!r} run; need mlm")
    sizes = {k: v for k, v in pretrained.to_dict()["model"].items() if k != "dropout"}
    config = config.replace(
        **sizes, vocabulary=pretrained.data.vocabulary, lower_case=pretrained.data.lower_case
    )
    pretrainer = keras.saving.load_model(model_path, compile=False)
    return config, pretrainer.encoder


def run_finetune(config: Config, export_base: str = "saved_models") -> str:
    d, t = config.data, config.train
    keras.utils.set_random_seed(t.seed)
    run_dir = resolve_run_dir(t.model_dir, t.task)
    splits, label_names = load_splits(
        t.task, d.dataset, d.train_data, d.data_dir,
        d.text_column, d.text_b_column, d.label_column, t.seed,
    )  # fmt: skip
    labels = label_set(splits, label_names) if t.task == "classify" else None
    names = [label_names.get(x, x) for x in labels] if labels else None
    pair = splits["train"].texts_b is not None
    logging.info("splits: %s", {k: len(v) for k, v in splits.items()})

    with make_strategy().scope():
        config, encoder = starting_point(config.replace(model_dir=run_dir))
        vocabulary = config.data.vocabulary or _train_vocabulary(run_dir, splits["train"], config)
        tokenizer = load_tokenizer("wordpiece", vocabulary, config.data.lower_case)
        if encoder is not None and encoder.vocabulary_size != tokenizer.vocabulary_size:
            raise DataError(
                f"vocabulary {vocabulary} has {tokenizer.vocabulary_size} tokens but the "
                f"checkpoint's encoder has {encoder.vocabulary_size}"
            )
        config = config.replace(vocabulary=vocabulary, vocabulary_size=tokenizer.vocabulary_size)
        if encoder is None:
            encoder = BertEncoder(**config.model_kwargs(BertEncoder))
        model = TextClassifier(encoder, len(labels) if labels else 1, config.model.dropout)
        if t.lora_rank:
            enable_lora(encoder, t.lora_rank)
        elif t.freeze_layers >= 0:
            freeze_layers(encoder, t.freeze_layers)
        parameters = count_parameters(model)
        logging.info("parameters: %s", parameters)

        # Budget: --epochs passes over the training split (3 if not given), validated
        # every --steps_per_epoch steps at most; --max_minutes stops earlier.
        one_pass = max(1, len(splits["train"]) // t.batch_size)
        steps_per_epoch = min(one_pass, t.steps_per_epoch)
        total_steps = (t.epochs or 3) * one_pass
        if labels:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        else:
            loss, metrics = keras.losses.MeanSquaredError(), [keras.metrics.MeanSquaredError("mse")]
        optimizer = make_optimizer(
            t.learning_rate, min(t.warmup_steps, total_steps // 10), total_steps, t.decay,
            t.weight_decay, t.beta_2,
        )  # fmt: skip
        model.compile(optimizer, loss=loss, weighted_metrics=metrics, jit_compile=t.jit_compile)
    config = config.replace(steps=total_steps, steps_per_epoch=steps_per_epoch)
    config.to_json(os.path.join(run_dir, "config.json"))

    weights = None
    if labels and t.class_weights:
        weights = inverse_frequency_weights(label_array(splits["train"], labels), len(labels))
    datasets = {
        split: make_finetune_dataset(
            data,
            tokenizer,
            d.sequence_length,
            t.batch_size,
            labels,
            training=split == "train",
            seed=t.seed,
            class_weights=weights if split == "train" else None,
        )  # fmt: skip
        for split, data in splits.items()
    }
    monitor = ("val_accuracy", "max") if labels else ("val_loss", "min")
    callbacks = ()
    if t.patience:
        callbacks = (
            keras.callbacks.EarlyStopping(
                monitor=monitor[0], mode=monitor[1], patience=t.patience,
                restore_best_weights=True,
            ),
        )  # fmt: skip
    start = time.time()
    history, _ = fit(
        model, datasets["train"], datasets["validation"], run_dir, total_steps,
        steps_per_epoch, t.batch_size, d.sequence_length, max_minutes=t.max_minutes,
        log_every=100, extra_callbacks=callbacks,
    )  # fmt: skip
    minutes = (time.time() - start) / 60
    if t.lora_rank:
        model = merge_lora(model)
    model.save(os.path.join(run_dir, "model.keras"))
    report = evaluate(model, datasets["test"], splits["test"], labels)
    report.update(
        task=t.task, dataset=d.train_data or d.dataset or "default", init_from=t.init_from or "none",
        method=_method_name(t), parameters=parameters, fine_tune_minutes=round(minutes, 2),
        epochs_run=len(history.history.get("loss", [])),
        validation=_best(history.history, monitor), splits={k: len(v) for k, v in splits.items()},
        labels=names,
    )  # fmt: skip
    write_eval(run_dir, report)
    return export_classifier(config, model, tokenizer, names, pair, export_base, report)


def _train_vocabulary(run_dir: str, train, config: Config) -> str:
    """From-scratch runs without --vocabulary: WordPiece on the training texts only."""
    path = os.path.join(run_dir, "train_texts.txt")
    with open(path, "w", encoding="utf-8") as f:
        for text in train.texts + (train.texts_b or []):
            f.write(text.replace("\n", " ") + "\n\n")
    d = config.data
    return ensure_vocabulary(
        run_dir, [path], "wordpiece", "", d.vocabulary_size_target, d.vocabulary_max_bytes,
        d.lower_case, validation_fraction=0.0,
    )  # fmt: skip


def _method_name(t) -> str:
    if t.lora_rank:
        return f"lora-{t.lora_rank}"
    if t.freeze_layers == 0:
        return "linear-probe"
    if t.freeze_layers > 0:
        return f"top-{t.freeze_layers}-layers"
    return "full"


def _best(history: dict, monitor: tuple[str, str]) -> float | None:
    values = history.get(monitor[0])
    if not values:
        return None
    return float(max(values) if monitor[1] == "max" else min(values))


def evaluate(model: keras.Model, dataset, data, labels: list[str] | None) -> dict:
    """Test metrics of `model` on `dataset` (one ordered pass over `data`)."""
    outputs = model.predict(dataset.map(lambda inputs, *rest: inputs), verbose=0)
    targets = label_array(data, labels)
    if labels:
        return {"test": classification_metrics(targets, outputs)}
    return {"test": regression_metrics(targets, outputs)}


def write_eval(run_dir: str, report: dict) -> None:
    with open(os.path.join(run_dir, "eval.json"), "w") as f:
        json.dump(report, f, indent=2)
    with open(os.path.join(run_dir, "eval.md"), "w") as f:
        f.write(eval_table([(run_dir, report)]) + "\n")
    logging.info("test: %s", report["test"])


def eval_table(reports: list[tuple[str, dict]]) -> str:
    """Markdown: one row per run (start, method, trainable parameters, minutes, test)."""
    rows = [
        "| run | task | data | start | method | trainable params | minutes | test |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run_dir, r in reports:
        test = ", ".join(f"{k} {v:.4f}" for k, v in r["test"].items())
        start = "scratch" if r["init_from"] == "none" else f"pretrained ({r['init_from']})"
        rows.append(
            f"| {os.path.basename(run_dir.rstrip('/'))} | {r['task']} | {r['dataset']} | {start} "
            f"| {r['method']} | {r['parameters']['trainable']:,} / {r['parameters']['total']:,} "
            f"| {r['fine_tune_minutes']} | {test} |"
        )
    return "\n".join(rows)


def export_classifier(config, model, tokenizer, labels, pair, export_base, report) -> str:
    """`saved_models/<task>-<preset>/<next version>` with `labels` (names) in the card."""
    from bertgpt_tf.export.classifier_serving import TextClassifierServing
    from bertgpt_tf.export.saved_model import export_saved_model

    module = TextClassifierServing(model, tokenizer, config.data.sequence_length, labels, pair)
    name = config.train.export_name or f"{config.train.task}-{config.train.preset}"
    card = {
        "task": config.train.task,
        "labels": labels,
        "config": config.to_dict(),
        "run_dir": config.train.model_dir,
        "metrics": report["test"],
    }
    path = export_saved_model(module, export_base, name, model_card=card)
    logging.info("exported %s", path)
    return path

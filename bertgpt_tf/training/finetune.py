"""Fine-tuning a pretrained (or fresh) encoder: `classify`, `regress`, `ner`, `embed`.

`run_finetuning`: `prepare_finetuning` (seed, run dir, the `--init_from` run) -> the
inputs (`make_inputs`, which `run_train.py` gives: splits, vocabulary, tf.data,
`pipelines.task_data.finetune_inputs`) -> `finetune`: the `--init_from` run's backbone
(a BERT encoder or GPT decoder), or a new encoder -> the task model, which owns its loss
and metrics -> the method (full, `--freeze_layers`, `--lora_rank`, `--prefix_length`;
`training.peft`) -> `train_from_config` with early stopping on the validation metric
(best weights restored) -> test metrics in `eval.json` / `eval.md` -> a raw-text
SavedModel.
"""

import dataclasses
import os
import time

import keras
import numpy as np
from absl import logging

from bertgpt_tf.checkpoints.import_checkpoint import as_run_dir
from bertgpt_tf.config import ENCODER_PRETRAINING, Config
from bertgpt_tf.evaluation.eval_report import eval_table, read_eval, write_eval
from bertgpt_tf.evaluation.metrics import (
    classification_metrics,
    entity_f1,
    regression_metrics,
)
from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.tasks.load_task_model import load_task_model
from bertgpt_tf.tasks.sentence_embedder import SentenceEmbedder, SiameseSimilarity
from bertgpt_tf.tasks.text_classifier import TextClassifier
from bertgpt_tf.tasks.token_classifier import TokenClassifier
from bertgpt_tf.training.fit import save_model, start_run, train_from_config
from bertgpt_tf.training.peft import count_parameters, enable_lora, freeze_layers, merge_lora
from bertgpt_tf.training.task_inputs import TaskInputs


def prepare_finetuning(config: Config, fresh_run: bool = True) -> Config:
    """Seeds; for a new run (not `--task=evaluate`'s re-test of a finished one) the
    config with its run dir (created) and the `--init_from` run resolved."""
    if not fresh_run:
        keras.utils.set_random_seed(config.train.seed)
        return config
    return resolve_init_from(start_run(config))


def resolve_init_from(config: Config) -> Config:
    """With `--init_from=<run>`: the run's model sizes, tokenizer, vocabulary and casing
    in `config` (a finished mlm run, or a clm run for classify/regress). Unchanged from
    scratch."""
    source = config.train.init_from
    if source in ("", "none"):
        if config.tokenizer_kind != "wordpiece":
            raise ValueError(
                "from scratch, fine-tuning trains a BERT encoder on WordPiece; for a GPT "
                "decoder give --init_from=<clm run>"
            )
        return config
    source = as_run_dir(source, config.train.model_dir)  # a published checkpoint: imported
    config = config.replace(init_from=source)
    run_config_path = os.path.join(source, "config.json")
    if not os.path.exists(os.path.join(source, "model.keras")) or not os.path.exists(
        run_config_path
    ):
        raise ValueError(f"--init_from={source!r} is not a finished pretraining run")
    pretrained = Config.from_json(run_config_path)
    kind = pretrained.train.task
    if kind not in (*ENCODER_PRETRAINING, "clm") or (
        kind == "clm" and config.train.task not in DECODER_TASKS
    ):
        raise ValueError(
            f"--init_from: {source} is a {kind!r} run; --task={config.train.task} needs an "
            f"{' or '.join(ENCODER_PRETRAINING)} run{' (or a clm run)' if config.train.task in DECODER_TASKS else ''}"
        )
    sizes = {k: v for k, v in pretrained.to_dict()["model"].items() if k != "dropout"}
    return config.replace(
        **sizes, export_name=config.export_name_after(pretrained),
        tokenizer=pretrained.tokenizer_kind, vocabulary=pretrained.data.vocabulary,
        lower_case=pretrained.data.lower_case, normalization=pretrained.data.normalization,
    )  # fmt: skip


def _backbone(config: Config) -> keras.Model:
    """The `--init_from` run's backbone, a BERT encoder or a GPT decoder (in the current
    strategy scope), with every dropout at `--dropout` as a new encoder has (a budget
    pretraining run trains without), or a new encoder."""
    if config.train.init_from in ("", "none"):
        return BertEncoder(**config.model_kwargs(BertEncoder))
    pretrained = load_task_model(os.path.join(config.train.init_from, "model.keras"))
    # a copy built at --dropout, every layer trainable (pretraining may freeze a pooler)
    backbone = type(pretrained.backbone).from_config(
        {**pretrained.backbone.get_config(), "dropout": config.model.dropout, "trainable": True}
    )
    backbone.set_weights(pretrained.backbone.get_weights())
    if backbone.vocabulary_size != config.model.vocabulary_size:
        raise ValueError(
            f"vocabulary {config.data.vocabulary} has {config.model.vocabulary_size} tokens but the "
            f"checkpoint's encoder has {backbone.vocabulary_size}"
        )
    return backbone


# Tasks a GPT decoder fine-tunes for (last-token pooling).
DECODER_TASKS = ("classify", "regress")


def run_finetuning(
    config: Config, make_inputs, export_base: str = "saved_models", version=None
) -> str:
    """The whole run: `prepare_finetuning` -> `make_inputs(config)` (a `TaskInputs`) ->
    `finetune`; returns the SavedModel's path."""
    config = prepare_finetuning(config)
    return finetune(config, make_inputs(config), export_base, version)


def finetune(
    config: Config, inputs: TaskInputs, export_base: str = "saved_models", version=None
) -> str:
    """The task model on the backbone, the method applied (`build`), fit through
    `train_from_config` with early stopping on the validation metric (best weights
    restored); the score before (a linear probe, or zero-shot for embed) and after on
    `inputs.test`; eval.json / eval.md, model.keras and the SavedModel."""
    t, labels = config.train, inputs.labels
    before = {}

    def build(config: Config) -> keras.Model:
        backbone = _backbone(config)
        if t.task != "embed" and t.probe_steps:  # before the method freezes anything
            before.update(_linear_probe(t, backbone, inputs))
        model = _task_model(config.train, backbone, labels, config.model.dropout)
        if t.task == "embed":  # the untouched encoder's mean-pooled cosines, zero-shot
            before.update(evaluate(model, inputs.test, inputs.test_targets, labels, t.task)["test"])
        if t.lora_rank:
            enable_lora(backbone, t.lora_rank)
        elif t.freeze_layers >= 0:
            freeze_layers(backbone, t.freeze_layers)
        return model

    def callbacks_for(model: keras.Model) -> tuple:
        if not t.patience:
            return ()
        monitor = ("val_accuracy", "max") if labels else ("val_loss", "min")
        return (
            keras.callbacks.EarlyStopping(
                monitor=monitor[0], mode=monitor[1], patience=t.patience,
                restore_best_weights=True,
            ),
        )  # fmt: skip

    start = time.time()
    config, model, history, _ = train_from_config(config, inputs, build, callbacks_for)
    minutes = (time.time() - start) / 60
    report = evaluate(model, inputs.test, inputs.test_targets, labels, t.task)
    exported = model.embedder if t.task == "embed" else model
    if t.lora_rank:
        exported = merge_lora(exported)
    save_model(exported, os.path.join(t.model_dir, "model.keras"))
    if before:
        report["before"] = before
        report["before_method"] = "zero-shot" if t.task == "embed" else f"probe-{t.probe_steps}"
    monitor = "val_accuracy" if labels else "val_loss"
    report.update(
        task=t.task, dataset=config.data.train_data or config.data.dataset or "default",
        init_from=t.init_from or "none", method=_method_name(t),
        parameters=count_parameters(model), fine_tune_minutes=round(minutes, 2),
        epochs_run=len(history.history.get("loss", [])),
        validation=_best(history.history.get(monitor), max if labels else min),
        labels=labels, splits=inputs.sizes,
    )  # fmt: skip
    write_eval(t.model_dir, report)
    return export_classifier(
        config, exported, inputs.tokenizer, labels, inputs.pair, export_base, report, version
    )


PROBE_LEARNING_RATE = 1e-3


def _linear_probe(t, backbone: keras.Model, inputs: TaskInputs) -> dict:
    """Test metrics before fine-tuning: the task's head alone (no dropout), trained
    `probe_steps` steps with Adam at 1e-3 on the frozen, untouched backbone's features
    (before the fine-tuning method freezes or adapts any of it: it is trainable after)."""
    start = time.time()
    probe = _task_model(dataclasses.replace(t, prefix_length=0), backbone, inputs.labels, 0.0)
    backbone.trainable = False
    probe.compile(keras.optimizers.Adam(PROBE_LEARNING_RATE))
    train = inputs.train.take(t.probe_steps)  # the fine-tune's passes may be fewer
    probe.fit(train, steps_per_epoch=t.probe_steps, epochs=1, verbose=0, shuffle=False)
    before = evaluate(probe, inputs.test, inputs.test_targets, inputs.labels, t.task)["test"]
    backbone.trainable = True
    logging.info(
        "before fine-tuning (linear probe: the head alone, %d steps on the frozen backbone,"
        " %.0f s): %s", t.probe_steps, time.time() - start, before,
    )  # fmt: skip
    return before


def _task_model(t, backbone: keras.Model, labels, dropout: float) -> keras.Model:
    """The model `fit` trains: a classifier, a tagger, or for `embed` a siamese pair
    around the `SentenceEmbedder` (`.embedder`: what is saved and exported)."""
    if t.task == "embed":
        return SiameseSimilarity(SentenceEmbedder(backbone), t.embed_loss)
    if t.task == "ner":
        return TokenClassifier(backbone, len(labels), dropout)
    return TextClassifier(
        backbone, len(labels) if labels else 1, dropout, t.prefix_length, t.pooling
    )


def _method_name(t) -> str:
    if t.prefix_length:
        return f"prompt-{t.prefix_length}"
    if t.lora_rank:
        return f"lora-{t.lora_rank}"
    if t.freeze_layers == 0:
        return "linear-probe"
    if t.freeze_layers > 0:
        return f"top-{t.freeze_layers}-layers"
    return "full"


def _best(values: list | None, best) -> float | None:
    return float(best(values)) if values else None


def evaluate(model: keras.Model, dataset, targets, labels: list[str] | None, task: str) -> dict:
    """Test metrics of `model` on `dataset` (one ordered pass, `targets` in order):
    accuracy / macro F1, Pearson / Spearman, or entity-level P / R / F1 (ner: `targets`
    are the IOB2 tag lists; a word's tag is predicted at its first piece)."""
    if task != "ner":
        outputs = model.predict(dataset.map(lambda inputs, *rest: inputs), verbose=0)
        metrics = classification_metrics if labels else regression_metrics
        result = metrics(targets, outputs)
        if task == "embed":  # cosines are not on the scores' scale: rank metrics only
            result.pop("mse")
        return {"test": result}
    # One pass: logits beside the weights (1 at each word's first piece), static length.
    batches = [(model.predict_on_batch(inputs), w.numpy()) for inputs, _, w in dataset]
    logits, weights = (np.concatenate(part) for part in zip(*batches, strict=True))
    predicted = []
    for tags, sentence_logits, first in zip(targets, logits, weights, strict=True):
        ids = np.argmax(sentence_logits[first > 0], axis=-1)
        words = [labels[i] for i in ids] + ["O"] * (len(tags) - len(ids))  # cut-off: O
        predicted.append(words)
    return {"test": entity_f1(targets, predicted)}


def reevaluate(config: Config, inputs: TaskInputs) -> str:
    """`--task=evaluate`: the run's saved model on its test split again; the test
    metrics in eval.json/eval.md are replaced (the rest of the report is kept)."""
    run_dir = config.train.model_dir
    report = read_eval(run_dir)
    model = load_task_model(os.path.join(run_dir, "model.keras"))
    if config.train.task == "embed":
        model = SiameseSimilarity(model)
    report["test"] = evaluate(
        model, inputs.test, inputs.test_targets, inputs.labels, config.train.task
    )["test"]
    write_eval(run_dir, report)
    return eval_table([(run_dir, report)])


def export_classifier(
    config, model, tokenizer, labels, pair, export_base, report, version=None
) -> str:
    """`saved_models/<task>-<preset>/<next version>` with `labels` (names) in the card."""
    from bertgpt_tf.export.classifier_serving import TextClassifierServing
    from bertgpt_tf.export.embed_serving import EmbedServing
    from bertgpt_tf.export.from_run import training_data
    from bertgpt_tf.export.ner_serving import NERServing
    from bertgpt_tf.export.saved_model import export_saved_model

    length = config.data.sequence_length
    if config.train.task == "ner":
        module = NERServing(model, tokenizer, length, labels)
    elif config.train.task == "embed":
        module = EmbedServing(model, tokenizer, length)
    else:
        module = TextClassifierServing(model, tokenizer, length, labels, pair)
    name = config.export_name
    card = {
        "task": config.train.task,
        "labels": labels,
        "config": config.to_dict(),
        "run_dir": config.train.model_dir,
        "training_data": training_data(config),
        "metrics": report["test"],
    }
    return export_saved_model(module, export_base, name, version, card)

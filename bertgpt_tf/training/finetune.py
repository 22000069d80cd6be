"""Fine-tuning a pretrained (or fresh) encoder: `classify`, `regress`, `ner`, `embed`.

`prepare_finetuning` (seed, run dir, the `--init_from` run) -> `run_train.py` prepares
the data (splits, vocabulary, tf.data: `pipelines.task_data.finetune_inputs`); here: the
`--init_from` run's backbone (a BERT encoder or GPT decoder), or a new encoder -> the
method (full, `--freeze_layers`, `--lora_rank`, `--prefix_length`; `training.peft`) ->
`model.fit` under the strategy with early stopping on the validation metric (best
weights restored) -> test metrics in `eval.json` / `eval.md` -> a raw-text SavedModel.
"""

import dataclasses
import os
import time

import keras
import numpy as np
import tensorflow as tf
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
from bertgpt_tf.tasks.sentence_embedder import SentenceEmbedder, siamese_similarity
from bertgpt_tf.tasks.text_classifier import TextClassifier
from bertgpt_tf.tasks.token_classifier import TokenClassifier
from bertgpt_tf.training.fit import (
    fit,
    make_strategy,
    precision_policy,
    save_model,
    start_run,
    write_run_config,
)
from bertgpt_tf.training.optimizer import make_optimizer
from bertgpt_tf.training.peft import count_parameters, enable_lora, freeze_layers, merge_lora


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


def _backbone(config: Config, vocabulary_size: int) -> keras.Model:
    """The `--init_from` run's backbone, a BERT encoder or a GPT decoder (in the current
    strategy scope), or a new encoder."""
    if config.train.init_from in ("", "none"):
        return BertEncoder(**config.model_kwargs(BertEncoder))
    pretrained = load_task_model(os.path.join(config.train.init_from, "model.keras"))
    backbone = pretrained.backbone
    if backbone.vocabulary_size != vocabulary_size:
        raise ValueError(
            f"vocabulary {config.data.vocabulary} has {vocabulary_size} tokens but the "
            f"checkpoint's encoder has {backbone.vocabulary_size}"
        )
    return backbone


# Tasks a GPT decoder fine-tunes for (last-token pooling).
DECODER_TASKS = ("classify", "regress")


def finetune(
    config: Config,
    tokenizer,
    datasets: dict[str, tf.data.Dataset],
    split_sizes: dict[str, int],
    test_targets: np.ndarray,
    labels: list[str] | None,
    pair: bool,
    export_base: str = "saved_models",
) -> str:
    """Fits a `TextClassifier` on `datasets` ("train" repeated, "validation", "test"
    one ordered pass each, of `split_sizes` examples; `labels`: class names, None to
    regress), then evaluates on
    "test" against `test_targets`, writes eval.json/eval.md and exports."""
    t, run_dir = config.train, config.train.model_dir
    # Budget: --epochs passes over the training split (3 if not given), at most --steps
    # steps (the learning rate decays to 0 there), validated on --validation_steps
    # batches every --steps_per_epoch steps at most; --max_minutes stops earlier.
    one_pass = max(1, split_sizes["train"] // t.batch_size)
    config = config.replace(
        steps=min(t.steps, (t.epochs or 3) * one_pass),
        steps_per_epoch=min(one_pass, t.steps_per_epoch),
    )
    t = config.train
    # --mixed_precision: bf16 compute for the models built or loaded here (a loaded
    # backbone takes the policy in force when it is loaded, not the one it trained with)
    with precision_policy(t.mixed_precision):
        with make_strategy().scope():
            backbone = _backbone(config, tokenizer.vocabulary_size)
            before = _linear_probe(t, backbone, labels, datasets, test_targets)
            model, exported = _task_model(t, backbone, labels, config.model.dropout)
            if t.lora_rank:
                enable_lora(backbone, t.lora_rank)
            elif t.freeze_layers >= 0:
                freeze_layers(backbone, t.freeze_layers)
            parameters = count_parameters(model)
            logging.info("parameters: %s", parameters)
            loss, metrics = _loss_and_metrics(labels)
            optimizer = make_optimizer(
                t.learning_rate, min(t.warmup_steps, t.steps // 10), t.steps, t.decay,
                t.weight_decay, t.beta_2,
            )  # fmt: skip
            model.compile(optimizer, loss=loss, weighted_metrics=metrics, jit_compile=t.jit_compile)
        write_run_config(config)
        monitor = ("val_accuracy", "max") if labels else ("val_loss", "min")
        callbacks = ()
        if t.patience:
            callbacks = (
                keras.callbacks.EarlyStopping(
                    monitor=monitor[0], mode=monitor[1], patience=t.patience,
                    restore_best_weights=True,
                ),
            )  # fmt: skip
        if t.task == "embed":  # the untouched encoder's mean-pooled cosines, zero-shot
            before = evaluate(model, datasets["test"], test_targets, labels, t.task)["test"]
        start = time.time()
        history, _ = fit(
            model, datasets["train"], datasets["validation"], run_dir, t.steps,
            t.steps_per_epoch, t.batch_size, config.data.sequence_length,
            validation_steps=t.validation_steps, max_minutes=t.max_minutes, log_every=100,
            extra_callbacks=callbacks,
        )  # fmt: skip
        minutes = (time.time() - start) / 60
        report = evaluate(model, datasets["test"], test_targets, labels, t.task)
    if t.lora_rank:
        exported = merge_lora(exported)
    save_model(exported, os.path.join(run_dir, "model.keras"))
    if before is not None:
        report["before"] = before
        report["before_method"] = "zero-shot" if t.task == "embed" else f"probe-{t.probe_steps}"
    report.update(
        task=t.task, dataset=config.data.train_data or config.data.dataset or "default",
        init_from=t.init_from or "none", method=_method_name(t), parameters=parameters,
        fine_tune_minutes=round(minutes, 2), epochs_run=len(history.history.get("loss", [])),
        validation=_best(history.history, monitor), labels=labels, splits=split_sizes,
    )  # fmt: skip
    write_eval(run_dir, report)
    return export_classifier(config, exported, tokenizer, labels, pair, export_base, report)


def _loss_and_metrics(labels: list[str] | None) -> tuple:
    if labels:
        loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        return loss, [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
    # regress, embed (cosine against the scaled gold score)
    return keras.losses.MeanSquaredError(), [keras.metrics.MeanSquaredError("mse")]


PROBE_LEARNING_RATE = 1e-3


def _linear_probe(t, backbone: keras.Model, labels, datasets: dict, test_targets) -> dict | None:
    """Test metrics before fine-tuning: the task's head alone (no dropout), trained
    `probe_steps` steps with Adam at 1e-3 on the frozen, untouched backbone's features.
    None for embed (its zero-shot cosines are the score before) or `probe_steps=0`."""
    if t.task == "embed" or not t.probe_steps:
        return None
    start = time.time()
    probe, _ = _task_model(dataclasses.replace(t, prefix_length=0), backbone, labels, 0.0)
    backbone.trainable = False
    loss, metrics = _loss_and_metrics(labels)
    probe.compile(keras.optimizers.Adam(PROBE_LEARNING_RATE), loss=loss, weighted_metrics=metrics)
    train = datasets["train"].repeat().take(t.probe_steps)  # the fine-tune's passes may be fewer
    probe.fit(train, steps_per_epoch=t.probe_steps, epochs=1, verbose=0, shuffle=False)
    before = evaluate(probe, datasets["test"], test_targets, labels, t.task)["test"]
    backbone.trainable = True
    logging.info(
        "before fine-tuning (linear probe: the head alone, %d steps on the frozen backbone,"
        " %.0f s): %s", t.probe_steps, time.time() - start, before,
    )  # fmt: skip
    return before


def _task_model(t, backbone: keras.Model, labels, dropout: float):
    """(the model `fit` trains, the model that is saved and exported): the same one,
    except for `embed`, which trains a siamese pair around the `SentenceEmbedder`."""
    if t.task == "embed":
        embedder = SentenceEmbedder(backbone)
        backbone.pooled_dense.trainable = False  # mean pooling: the pooler is unused
        return siamese_similarity(embedder), embedder
    if t.task == "ner":
        model = TokenClassifier(backbone, len(labels), dropout)
        backbone.pooled_dense.trainable = False  # unused: keep it out of the count
        return model, model
    model = TextClassifier(backbone, len(labels) if labels else 1, dropout, t.prefix_length)
    return model, model


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


def _best(history: dict, monitor: tuple[str, str]) -> float | None:
    values = history.get(monitor[0])
    if not values:
        return None
    return float(max(values) if monitor[1] == "max" else min(values))


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


def reevaluate(config: Config, dataset, targets, labels: list[str] | None) -> str:
    """`--task=evaluate`: the run's saved model on its test split again; the test
    metrics in eval.json/eval.md are replaced (the rest of the report is kept)."""
    run_dir = config.train.model_dir
    report = read_eval(run_dir)
    model = load_task_model(os.path.join(run_dir, "model.keras"))
    if config.train.task == "embed":
        model = siamese_similarity(model)
    report["test"] = evaluate(model, dataset, targets, labels, config.train.task)["test"]
    write_eval(run_dir, report)
    return eval_table([(run_dir, report)])


def export_classifier(config, model, tokenizer, labels, pair, export_base, report) -> str:
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
    path = export_saved_model(module, export_base, name, model_card=card)
    logging.info("exported %s", path)
    return path

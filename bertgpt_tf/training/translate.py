"""`--task=translate`: an encoder-decoder Transformer on parallel text (Multi30k en->de).

parallel files -> SentencePiece model(s) trained into the run dir (shared by default) ->
tokenize + pack in `tf.data` -> `Translator` fit (teacher forcing, label smoothing) ->
corpus BLEU (sacrebleu, detokenized, 13a) of greedy and beam search on the test split,
decoded through the serving module, in `eval.json` / `eval.md` -> a raw-text SavedModel.
"""

import json
import os
import time

import keras
import tensorflow as tf
from absl import logging

from bertgpt_tf.config import Config
from bertgpt_tf.export.translate_serving import TranslateServing
from bertgpt_tf.models.seq2seq_transformer import Seq2SeqTransformer
from bertgpt_tf.tasks.text_classifier import count_parameters
from bertgpt_tf.tasks.translator import Translator
from bertgpt_tf.tokenizers.load_tokenizer import load_tokenizer_pair
from bertgpt_tf.training.callbacks import global_step
from bertgpt_tf.training.fit import fit, make_strategy, resolve_run_dir, resume_step
from bertgpt_tf.training.optimizer import make_optimizer

NUM_SAMPLES = 5  # example translations in eval.json / eval.md


def build_translator(config: Config) -> Translator:
    return Translator(
        Seq2SeqTransformer(**config.model_kwargs(Seq2SeqTransformer)),
        config.train.label_smoothing,
    )


def bleu(hypotheses: list[str], references: list[str]) -> tuple[float, str]:
    """sacrebleu corpus BLEU on detokenized text (default 13a tokenization), signature."""
    import sacrebleu

    metric = sacrebleu.metrics.BLEU()
    return metric.corpus_score(hypotheses, [references]).score, str(metric.get_signature())


def evaluate_bleu(config: Config, seq2seq, tokenizers, sources, references) -> dict:
    """Greedy and beam-search BLEU (beam `config.train.beam_size`) on `sources`."""
    t = config.train
    report, outputs = {"test": {}, "decode_seconds": {}}, {}
    for beam_size in sorted({1, t.beam_size}):
        name = "greedy" if beam_size == 1 else f"beam{beam_size}"
        module = TranslateServing(
            seq2seq, *tokenizers, config.data.sequence_length, beam_size, t.length_penalty
        )
        started = time.monotonic()
        outputs[name] = module.translate_texts(sources)
        report["decode_seconds"][name] = round(time.monotonic() - started, 1)
        report["test"][f"bleu_{name}"], report["bleu_signature"] = bleu(outputs[name], references)
        logging.info("test BLEU (%s): %.2f", name, report["test"][f"bleu_{name}"])
    report["samples"] = [
        {"source": s, "reference": r, **{k: v[i] for k, v in outputs.items()}}
        for i, (s, r) in enumerate(zip(sources[:NUM_SAMPLES], references, strict=False))
    ]
    return report


def write_eval(run_dir: str, report: dict) -> None:
    """eval.json and eval.md (BLEU table and sample translations)."""
    with open(os.path.join(run_dir, "eval.json"), "w") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
    lines = [
        f"# {report['dataset']} {report['direction']}, test split {report['test_split']}",
        "",
        "| decoding | BLEU | decode seconds |",
        "|---|---|---|",
        *[
            f"| {k[len('bleu_') :]} | {v:.2f} | {report['decode_seconds'][k[len('bleu_') :]]} |"
            for k, v in report["test"].items()
        ],
        "",
        f"sacrebleu: `{report['bleu_signature']}`; {report['steps']} steps, "
        f"{report['train_minutes']} training minutes, {report['parameters']:,} parameters.",
        "",
    ]
    for sample in report["samples"]:
        lines += [f"- {k}: {v}" for k, v in sample.items()] + [""]
    with open(os.path.join(run_dir, "eval.md"), "w") as f:
        f.write("\n".join(lines))


def prepare(config: Config) -> tuple[Config, dict, tuple]:
    """Run dir, the splits' sentence pairs, the SentencePiece model(s) and tokenizers;
    returns the config resolved with them, {split: (sources, targets)} and the
    (source, target) tokenizers."""
    from pipelines.translation_dataset import (
        DEFAULT_DATASET,
        dataset_folder,
        read_parallel,
        split_files,
    )
    from pipelines.vocabulary import ensure_translation_vocabularies

    d, t = config.data, config.train
    keras.utils.set_random_seed(t.seed)  # before the tokenizers (see SentencePieceTokenizer)
    run_dir = resolve_run_dir(t.model_dir, t.task)
    folder = dataset_folder(d.train_data, d.data_dir, d.dataset)
    languages = (d.source_language, d.target_language)
    files = {s: split_files(folder, s, *languages) for s in ("train", "validation", "test")}
    splits = {s: read_parallel(*paths) for s, paths in files.items()}
    vocabularies = ensure_translation_vocabularies(
        run_dir, *splits["train"], config.tokenizer_kind, d.shared_vocabulary,
        d.vocabulary_size_target, languages, d.vocabulary, d.target_vocabulary,
    )  # fmt: skip
    tokenizers = load_tokenizer_pair(config.tokenizer_kind, *vocabularies)
    shared = tokenizers[0] is tokenizers[1]
    config = config.replace(
        model_dir=run_dir, tokenizer=config.tokenizer_kind, vocabulary=vocabularies[0],
        target_vocabulary=vocabularies[1], vocabulary_size=tokenizers[0].vocabulary_size,
        target_vocabulary_size=0 if shared else tokenizers[1].vocabulary_size,
        dataset=d.dataset or ("" if d.train_data else DEFAULT_DATASET),
    )  # fmt: skip
    return config, splits, tokenizers


def train(config: Config, splits: dict, tokenizers: tuple) -> tuple[Config, Translator]:
    """tf.data -> `Translator` built and compiled under the strategy -> `fit` (resumes
    from the run's backup); writes config.json and model.keras."""
    from pipelines.task_data import count_batches
    from pipelines.translation_dataset import make_translation_dataset

    d, t = config.data, config.train

    def dataset(split: str, **kwargs):
        return make_translation_dataset(
            *splits[split], *tokenizers, d.sequence_length, t.batch_size, **kwargs
        )

    if t.epochs:  # passes over the training pairs -> a step budget
        config = config.replace(steps=t.epochs * count_batches(dataset("train")))
        t = config.train
    config.to_json(os.path.join(t.model_dir, "config.json"))
    train_data = dataset("train", shuffle_seed=t.seed, repeat=True)
    train_data = train_data.skip(resume_step(t.model_dir, t.steps_per_epoch))
    validation_data = dataset("validation")
    validation_steps = min(t.validation_steps, count_batches(validation_data))
    # Real tokens (both sides, end tokens included) per pair, for the tokens/s log.
    tokens_per_pair = sum(
        float(tok.tokenize(tf.constant(texts)).row_lengths().numpy().mean()) + 1
        for tok, texts in zip(tokenizers, splits["train"], strict=True)
    )
    with make_strategy().scope():
        model = build_translator(config)
        optimizer = make_optimizer(
            t.learning_rate, t.warmup_steps, t.steps, t.decay, t.weight_decay, t.beta_2
        )
        model.compile(optimizer, jit_compile=t.jit_compile)
    fit(
        model, train_data, validation_data if validation_steps else None, t.model_dir,
        t.steps, t.steps_per_epoch, t.batch_size, tokens_per_pair, validation_steps,
        t.checkpoint_every, t.max_minutes,
    )  # fmt: skip
    model.save(os.path.join(t.model_dir, "model.keras"))
    return config, model


def translate(config: Config, export_base: str = "saved_models", version=None) -> str:
    """Trains, evaluates (eval.json / eval.md) and exports; returns the export path."""
    from pipelines.translation_dataset import SPLITS

    config, splits, tokenizers = prepare(config)
    started = time.monotonic()
    config, model = train(config, splits, tokenizers)
    d = config.data
    report = {
        "task": "translate",
        "dataset": d.dataset or d.train_data,
        "direction": f"{d.source_language}->{d.target_language}",
        "test_split": SPLITS["test"],
        "steps": global_step(model),
        "train_minutes": round((time.monotonic() - started) / 60, 1),
        "parameters": count_parameters(model)["total"],
        "shared_vocabulary": tokenizers[0] is tokenizers[1],
        **evaluate_bleu(config, model.seq2seq, tokenizers, *splits["test"]),
    }
    write_eval(config.train.model_dir, report)
    return export_translator(config, model.seq2seq, tokenizers, export_base, version, report)


def export_translator(config, seq2seq, tokenizers, export_base, version, report=None) -> str:
    """`<export_base>/<export_name or translate-<preset>>/<version>/`, beam search with
    `beam_size` (1: greedy) fixed in the graph."""
    from bertgpt_tf.export.saved_model import export_saved_model

    t = config.train
    module = TranslateServing(
        seq2seq, *tokenizers, config.data.sequence_length, t.beam_size, t.length_penalty
    )
    card = {
        "task": "translate",
        "config": config.to_dict(),
        "run_dir": t.model_dir,
        "training_data": config.data.dataset or config.data.train_data,
        "decoding": {"beam_size": t.beam_size, "length_penalty": t.length_penalty},
        "metrics": (report or {}).get("test", {}),
    }
    name = t.export_name or f"translate-{t.preset}"
    path = export_saved_model(module, export_base, name, version, card)
    logging.info("exported %s", path)
    return path

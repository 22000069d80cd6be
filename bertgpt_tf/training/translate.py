"""`--task=translate`: an encoder-decoder Transformer on parallel text (Multi30k en->de).

`run_translation`: `start_run` (seed, run dir) -> the inputs (`make_inputs`, which
`run_train.py` gives: parallel files -> SentencePiece model(s) trained into the run dir,
shared by default -> tokenize + pack in `tf.data`: `pipelines.task_data.translation_inputs`)
-> `Translator` through `train_from_config` (teacher forcing, label smoothing) -> corpus
BLEU (sacrebleu, detokenized, 13a) of greedy and beam search on the test split, decoded
through the serving module, in `eval.json` / `eval.md` -> a raw-text SavedModel.
"""

import os
import time

from absl import logging

from bertgpt_tf.atomic_file import write_json, write_text
from bertgpt_tf.config import Config
from bertgpt_tf.export.translate_serving import TranslateServing
from bertgpt_tf.models.seq2seq_transformer import Seq2SeqTransformer
from bertgpt_tf.tasks.translator import Translator
from bertgpt_tf.training.callbacks import global_step
from bertgpt_tf.training.fit import save_model, start_run, train_from_config
from bertgpt_tf.training.peft import count_parameters
from bertgpt_tf.training.task_inputs import TaskInputs

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
    write_json(os.path.join(run_dir, "eval.json"), report, indent=2, ensure_ascii=False)
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
    write_text(os.path.join(run_dir, "eval.md"), "\n".join(lines))


def run_translation(
    config: Config, make_inputs, export_base: str = "saved_models", version=None
) -> str:
    """The whole run: `start_run` (seed, run dir) -> `make_inputs(config)` (a
    `TaskInputs`) -> `translate`; returns the SavedModel's path."""
    config = start_run(config)
    return translate(config, make_inputs(config), export_base, version)


def translate(
    config: Config, inputs: TaskInputs, export_base: str = "saved_models", version=None
) -> str:
    """Trains on `inputs`, evaluates on `inputs.test` (sources, references) and exports;
    returns the export path."""
    started = time.monotonic()
    config, model, _, _ = train_from_config(config, inputs, build_translator)
    save_model(model, os.path.join(config.train.model_dir, "model.keras"))
    d, tokenizers = config.data, inputs.tokenizer
    report = {
        "task": "translate",
        "dataset": d.dataset or d.train_data,
        "direction": f"{d.source_language}->{d.target_language}",
        "test_split": inputs.test_split,
        "steps": global_step(model),
        "train_minutes": round((time.monotonic() - started) / 60, 1),
        "parameters": count_parameters(model)["total"],
        "shared_vocabulary": tokenizers[0] is tokenizers[1],
        **evaluate_bleu(config, model.backbone, tokenizers, *inputs.test),
    }
    write_eval(config.train.model_dir, report)
    return export_translator(config, model.backbone, tokenizers, export_base, version, report)


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
    name = config.export_name
    return export_saved_model(module, export_base, name, version, card)

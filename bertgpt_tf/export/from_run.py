"""Turn a finished run directory into a serving module, a SavedModel, or predictions."""

import json
import os

import tensorflow as tf

from bertgpt_tf.checkpoints.import_checkpoint import read_manifest
from bertgpt_tf.config import Config
from bertgpt_tf.export.clm_serving import CausalLMServing
from bertgpt_tf.export.mlm_serving import MaskedLMServing
from bertgpt_tf.export.saved_model import export_saved_model
from bertgpt_tf.export.translate_serving import TranslateServing
from bertgpt_tf.tasks.load_task_model import load_task_model
from bertgpt_tf.tokenizers.load_tokenizer import load_tokenizer, load_tokenizer_pair


def load_serving_module(config: Config) -> MaskedLMServing | CausalLMServing | TranslateServing:
    """The run's `model.keras` and tokenizer as the serving module of its task."""
    run_dir = config.train.model_dir
    if not run_dir or not os.path.exists(os.path.join(run_dir, "model.keras")):
        raise FileNotFoundError(
            f"--model_dir must be a finished run (no model.keras in {run_dir!r})"
        )
    model = load_task_model(os.path.join(run_dir, "model.keras"))
    d, t = config.data, config.train
    if t.task == "translate":
        tokenizers = load_tokenizer_pair(config.tokenizer_kind, d.vocabulary, d.target_vocabulary)
        return TranslateServing(
            model.backbone, *tokenizers, d.sequence_length, t.beam_size, t.length_penalty
        )
    tokenizer = load_tokenizer(
        config.tokenizer_kind, d.vocabulary, d.lower_case, special_tokens_in_strings=True,
        normalization=d.normalization,
    )  # fmt: skip
    if config.train.task == "clm":
        limit = min(256, model.backbone.max_sequence_length // 2)
        return CausalLMServing(model.backbone, tokenizer, max_new_tokens_limit=limit)
    if t.task in ("distill", "electra"):  # fill_mask: the student's or the generator's head
        mlm = model.student if t.task == "distill" else model.generator
        return MaskedLMServing(mlm, tokenizer, d.sequence_length, backbone=model.backbone)
    manifest = read_manifest(run_dir) or {}  # an imported checkpoint without an MLM head:
    fill_mask = manifest.get("mlm_head", True)
    return MaskedLMServing(model, tokenizer, d.sequence_length, fill_mask=fill_mask)


def training_data(config: Config) -> str:
    """What the run trained on, for the model card."""
    d = config.data
    return d.train_data or d.dataset or f"default corpus of --task={config.train.task}"


def export_run(config: Config, export_base: str, version: int | None = None) -> str:
    """Writes `<export_base>/<export_name>/<version>/` with a model card of the run."""
    name = config.export_name
    card = {
        "task": config.train.task,
        "config": config.to_dict(),
        "run_dir": config.train.model_dir,
        "training_data": training_data(config),
    }
    results = os.path.join(config.train.model_dir, "results.json")
    if os.path.exists(results):
        with open(results) as f:
            card["metrics"] = {k: v[-1] for k, v in json.load(f)["history"].items()}
    return export_saved_model(load_serving_module(config), export_base, name, version, card)


def import_run(config: Config, export_base: str, version: int | None = None) -> str:
    """`--task=import`: the published checkpoint at `--init_from` (Hugging Face,
    keras-hub preset or Google BERT directory) -> an ordinary run dir (`--model_dir`) ->
    `encode` (+ `fill_mask` when the checkpoint has an MLM head) and `embed` SavedModels
    (a GPT-2: the `generate` SavedModel). Returns the run dir and the export paths, a
    line each."""
    from bertgpt_tf.checkpoints.import_checkpoint import import_checkpoint
    from bertgpt_tf.training.fit import resolve_run_dir

    if config.train.init_from in ("", "none"):
        raise ValueError("--task=import needs --init_from=<checkpoint directory>")
    run_dir = resolve_run_dir(config.train.model_dir, "import")
    import_checkpoint(config.train.init_from, run_dir, config)
    config = Config.from_json(os.path.join(run_dir, "config.json"))
    paths = [export_run(config, export_base, version)]
    if config.train.task == "mlm":
        paths.append(export_embedder(config, export_base, version))
    return "\n".join([run_dir, *paths])


def export_embedder(config: Config, export_base: str, version: int | None = None) -> str:
    """`<export_base>/<export_name>-embed/<version>/`: the run's encoder as a sentence
    embedder (mean pooling, unit vectors; `embed` and `similarity`), untouched by
    fine-tuning: what an imported sentence-transformers checkpoint is for."""
    from bertgpt_tf.export.embed_serving import EmbedServing
    from bertgpt_tf.tasks.sentence_embedder import SentenceEmbedder

    module = load_serving_module(config)
    tokenizer = load_tokenizer(
        config.tokenizer_kind, config.data.vocabulary, config.data.lower_case,
        normalization=config.data.normalization,
    )  # fmt: skip
    embedder = SentenceEmbedder(module.backbone)
    name = f"{config.export_name}-embed"
    card = {"task": "embed", "config": config.to_dict(), "run_dir": config.train.model_dir,
            "training_data": training_data(config)}  # fmt: skip
    serving = EmbedServing(embedder, tokenizer, config.data.sequence_length)
    return export_saved_model(serving, export_base, name, version, card)


def fill_mask_report(config: Config, prompts: list[str]) -> str:
    """One line per [MASK]: the top-5 tokens and probabilities, via the serving path."""
    module = load_serving_module(config)  # keep a reference: tf.function holds it weakly
    out = module.fill_mask(tf.constant(prompts))
    lines = []
    for prompt, tokens, scores in zip(
        prompts, out["top_tokens"].numpy(), out["top_scores"].numpy(), strict=True
    ):
        for k, (row, row_scores) in enumerate(zip(tokens, scores, strict=True)):
            if row[0]:
                pairs = ", ".join(
                    f"{t.decode()} {p:.3f}" for t, p in zip(row, row_scores, strict=True)
                )
                lines.append(f"{prompt}  [MASK]#{k + 1}: {pairs}")
    return "\n".join(lines)


def generate_report(config: Config, prompts: list[str], **controls) -> str:
    """Each prompt followed by its continuation, via the serving path (KV cache).
    `controls`: max_new_tokens, temperature, top_k, top_p, seed."""
    module = load_serving_module(config)
    return "\n---\n".join(module.complete(prompts, **controls))

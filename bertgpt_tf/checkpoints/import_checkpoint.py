"""Import a published checkpoint from local files into an ordinary run directory.

    python run_train.py --task=import --init_from=<dir> --model_dir=runs/<name>

Formats, detected from the files in `<dir>` (`detect_format`):
- `hf`: a Hugging Face directory, `config.json` + `model.safetensors`; model_type
  `bert` (incl. MiniLM), `distilbert`, `electra`: tokenizer from `vocab.txt` or
  `tokenizer.json` (WordPiece), casing from `tokenizer_config.json`; `roberta`:
  byte-level BPE from `vocab.json` + `merges.txt` or `tokenizer.json`, run in-graph by
  `RobertaTokenizer` (its position table starts at row 2, fairseq's padding offset,
  so rows 2.. become positions 0..; its one segment row is copied to a second, so
  `[CLS] a [SEP] b [SEP]` pairs read as RoBERTa reads them); `gpt2`: into
  `GPTDecoder` (a `clm` run), with the same byte-level BPE (`GPT2Tokenizer`).
- `keras_hub`: a keras-hub preset directory as `save_to_preset` writes it
  (`BertBackbone`), vocabulary from `assets/tokenizer/vocabulary.txt`.
- `google`: a google-research/bert TensorFlow checkpoint (`bert_config.json`,
  `bert_model.ckpt.*`, `vocab.txt`), as the 24 small BERTs ship. (Google's code ran
  the tanh GELU approximation; `BertEncoder` runs the exact GELU their config names,
  a difference of about 1e-3 in activations.)
- `run`: a run directory of this project (nothing to import).

The run directory written holds `config.json` (task `mlm`, the checkpoint's sizes; `clm`
for GPT-2), `model.keras` (a `BertPretrainer`: the encoder, plus the checkpoint's MLM
head where it has one, else a fresh head tied to the embeddings; a `GPTCausalLM` for
GPT-2), the vocabulary (`vocab.txt`, or `vocab.json` + `merges.txt`) and `import.json`
(what was imported, and whether the MLM head is the checkpoint's). Every task that takes a
run (`--init_from`, `--task=export`, `fill_mask`, `mlm` to continue pretraining)
accepts it.
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass, field

import numpy as np

from bertgpt_tf.atomic_file import write_json, write_text
from bertgpt_tf.checkpoints.bert_weights import (
    assign_weights,
    hf_names,
    hf_names_from_google,
    keras_paths,
)
from bertgpt_tf.checkpoints.gpt2_weights import gpt2_paths, gpt2_sizes

FORMATS = {
    "run": "config.json + model.keras (a run of this project)",
    "hf": "config.json + model.safetensors (Hugging Face)",
    "keras_hub": "config.json naming a keras_hub Backbone + model.weights.h5 (keras-hub preset)",
    "google": "bert_config.json + bert_model.ckpt.index (google-research/bert)",
}
HF_MODEL_TYPES = ("bert", "distilbert", "electra", "roberta", "albert", "gpt2")
# HF `hidden_act` -> BertEncoder's `activation`.
_ACTIVATIONS = {
    "gelu": "gelu",
    "gelu_new": "gelu_approximate",
    "gelu_pytorch_tanh": "gelu_approximate",
}
# What each unsupported model type would need, for the error message.
_UNSUPPORTED = {
    "xlm-roberta": "its SentencePiece tokenizer with fairseq id offsets is not mapped yet",
}
MANIFEST = "import.json"


def detect_format(path: str) -> str:
    """One of `FORMATS`; ValueError naming what was looked for when none matches."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"--init_from={path!r} is not a directory")
    has = lambda name: os.path.exists(os.path.join(path, name))  # noqa: E731
    if has("config.json") and has("model.keras"):
        return "run"
    if has("bert_config.json") and glob.glob(os.path.join(path, "*.ckpt*.index")):
        return "google"
    if has("config.json"):
        config = _read_json(os.path.join(path, "config.json"))
        if "keras_hub" in str(config.get("module", "")) + str(config.get("registered_name", "")):
            return "keras_hub"
        if "model_type" in config:
            if has("model.safetensors") or glob.glob(os.path.join(path, "model-*.safetensors")):
                return "hf"
            pickles = [n for n in ("pytorch_model.bin", "tf_model.h5") if has(n)]
            if pickles:
                raise ValueError(
                    f"{path}: only {pickles[0]} found; pickle (.bin) files can run arbitrary "
                    "code when loaded, so they are refused: convert to model.safetensors "
                    "(e.g. `transformers` save_pretrained(..., safe_serialization=True))"
                )
    raise ValueError(
        f"{path}: not a recognised checkpoint; looked for "
        + "; ".join(f"{k}: {v}" for k, v in FORMATS.items())
    )


@dataclass
class Checkpoint:
    """A checkpoint read into memory: model fields of `bertgpt_tf.config` (`sizes`),
    tensors by our weight path (Keras orientation), the vocabulary (by id) and casing;
    `tokenizer`: the `--tokenizer` kind that reads it, with `merges` for byte-level BPE
    and the model file for SentencePiece;
    `unused`: checkpoint tensors that map to no weight of ours."""

    format: str
    model_type: str
    sizes: dict
    tensors: dict[str, np.ndarray]
    vocabulary: list[str]
    lower_case: bool
    dropout: float = 0.1
    unused: list[str] = field(default_factory=list)
    tokenizer: str = "wordpiece"
    merges: list[str] = field(default_factory=list)
    sentencepiece_model: str = ""  # ALBERT's spiece.model

    @property
    def has_mlm_head(self) -> bool:
        return "mlm_head/intermediate_dense/kernel" in self.tensors

    @property
    def has_pair_head(self) -> bool:
        return "pair_head/kernel" in self.tensors


def read_checkpoint(path: str) -> Checkpoint:
    kind = detect_format(path)
    if kind == "run":
        raise ValueError(f"{path} is already a run directory of this project")
    return {"hf": _read_hf, "google": _read_google, "keras_hub": _read_keras_hub}[kind](path)


# === Hugging Face ===
def _read_hf(path: str) -> Checkpoint:
    from safetensors.numpy import load_file

    config = _read_json(os.path.join(path, "config.json"))
    model_type = config["model_type"]
    if model_type not in HF_MODEL_TYPES:
        why = _UNSUPPORTED.get(model_type, "no mapping for it")
        raise ValueError(
            f"{path}: model_type {model_type!r} cannot be imported: {why}; "
            f"supported: {', '.join(HF_MODEL_TYPES)}"
        )
    tensors = {}
    for file in sorted(glob.glob(os.path.join(path, "*.safetensors"))):
        tensors.update(load_file(file))
    if model_type == "gpt2":
        tensors, unused = gpt2_paths(tensors)
        vocabulary, merges = _hf_byte_bpe(path)
        dropout = config.get("resid_pdrop", 0.1)
        sizes = gpt2_sizes(config, path)
        return Checkpoint(
            "hf", model_type, sizes, tensors, vocabulary, False, dropout, unused, "byte_bpe", merges
        )
    tensors, unused = keras_paths(hf_names(tensors, model_type))
    sizes, dropout = _hf_sizes(config, model_type, path)
    if "segment_embedding/embeddings" not in tensors:  # DistilBERT has none
        tensors["segment_embedding/embeddings"] = np.zeros(
            (sizes["num_segments"], sizes["embedding_dim"] or sizes["hidden_dim"]), np.float32
        )
    if model_type == "albert":
        if (config.get("num_hidden_groups", 1), config.get("inner_group_num", 1)) != (1, 1):
            raise ValueError(
                f"{path}: num_hidden_groups / inner_group_num other than 1 (one block shared "
                "by all layers, as every published ALBERT) are not supported"
            )
        tensors = {p.replace("transformer_layer_0/", "transformer_layer/"): t
                   for p, t in tensors.items()}  # fmt: skip
        vocabulary, lower_case = _hf_sentencepiece(path)
        return Checkpoint(
            "hf", model_type, sizes, tensors, vocabulary, lower_case, dropout, unused,
            "sentencepiece", sentencepiece_model=os.path.join(path, "spiece.model"),
        )  # fmt: skip
    if model_type == "roberta":
        offset = config.get("pad_token_id", 1) + 1  # fairseq: positions start after padding
        positions = tensors["position_embedding/embeddings"]
        tensors["position_embedding/embeddings"] = positions[offset:]
        segments = tensors["segment_embedding/embeddings"]
        tensors["segment_embedding/embeddings"] = np.concatenate([segments, segments[:1]])[:2]
        vocabulary, merges = _hf_byte_bpe(path)
        return Checkpoint(
            "hf", model_type, sizes, tensors, vocabulary, False, dropout, unused, "byte_bpe", merges
        )
    vocabulary, lower_case = _hf_tokenizer(path)
    return Checkpoint("hf", model_type, sizes, tensors, vocabulary, lower_case, dropout, unused)


def _hf_sizes(config: dict, model_type: str, path: str) -> tuple[dict, float]:
    if model_type == "distilbert":
        if config.get("sinusoidal_pos_embds"):
            raise ValueError(f"{path}: sinusoidal position embeddings are not supported")
        activation = config.get("activation", "gelu")
        sizes = dict(
            vocabulary_size=config["vocab_size"], num_layers=config["n_layers"],
            num_heads=config["n_heads"], hidden_dim=config["dim"],
            intermediate_dim=config["hidden_dim"],
            max_sequence_length=config["max_position_embeddings"], num_segments=2,
            embedding_dim=0,
        )  # fmt: skip
        dropout = config.get("dropout", 0.1)
    else:
        activation = config.get("hidden_act", "gelu")
        if config.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError(f"{path}: position_embedding_type must be 'absolute'")
        embedding = config.get("embedding_size", config["hidden_size"])
        positions = config["max_position_embeddings"]
        if model_type == "roberta":  # rows before pad_token_id + 1 are never used
            positions -= config.get("pad_token_id", 1) + 1
        sizes = dict(
            vocabulary_size=config["vocab_size"], num_layers=config["num_hidden_layers"],
            num_heads=config["num_attention_heads"], hidden_dim=config["hidden_size"],
            intermediate_dim=config["intermediate_size"],
            max_sequence_length=min(512, positions),
            num_segments=max(2, config.get("type_vocab_size", 2)),
            embedding_dim=0 if embedding == config["hidden_size"] else embedding,
        )  # fmt: skip
        dropout = config.get("hidden_dropout_prob", 0.1)
    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"{path}: activation {activation!r} is not supported ({', '.join(_ACTIVATIONS)})"
        )
    eps = float(config.get("layer_norm_eps", 1e-12))
    return {
        **sizes, "normalize_first": False, "conv_width": 0,
        "share_layers": model_type == "albert", "layer_norm_epsilon": eps,
        "activation": _ACTIVATIONS[activation],
    }, dropout  # fmt: skip


def _hf_tokenizer(path: str) -> tuple[list[str], bool]:
    """WordPiece vocabulary (vocab.txt, else tokenizer.json's) and lower-casing."""
    tokenizer_config = _read_json(os.path.join(path, "tokenizer_config.json"), {})
    tokenizer_json = _read_json(os.path.join(path, "tokenizer.json"), {})
    normalizer = tokenizer_json.get("normalizer") or {}
    lower_case = tokenizer_config.get("do_lower_case", normalizer.get("lowercase", True))
    strip_accents = tokenizer_config.get("strip_accents", normalizer.get("strip_accents"))
    if strip_accents is not None and strip_accents != lower_case:
        raise ValueError(
            f"{path}: strip_accents={strip_accents} with lower_case={lower_case}: the "
            "in-graph tokenizer strips accents exactly when it lower-cases"
        )
    if os.path.exists(os.path.join(path, "vocab.txt")):
        return _read_lines(os.path.join(path, "vocab.txt")), lower_case
    model = tokenizer_json.get("model") or {}
    if model.get("type") != "WordPiece":
        raise ValueError(
            f"{path}: no vocab.txt and no WordPiece model in tokenizer.json "
            f"(found {model.get('type')!r})"
        )
    by_id = sorted(model["vocab"].items(), key=lambda item: item[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        raise ValueError(f"{path}: tokenizer.json's vocabulary ids are not 0..n-1")
    return [token for token, _ in by_id], lower_case


def _hf_sentencepiece(path: str) -> tuple[list[str], bool]:
    """ALBERT's `spiece.model` pieces (by id) and lower-casing (`do_lower_case`, which
    strips accents unless `keep_accents`: one switch in-graph, as for WordPiece)."""
    from bertgpt_tf.tokenizers.sentencepiece_tokenizer import SentencePieceTokenizer

    model = os.path.join(path, "spiece.model")
    if not os.path.exists(model):
        raise ValueError(f"{path}: an ALBERT checkpoint needs its spiece.model")
    tokenizer_config = _read_json(os.path.join(path, "tokenizer_config.json"), {})
    lower_case = tokenizer_config.get("do_lower_case", True)
    if tokenizer_config.get("keep_accents", False) == lower_case:
        raise ValueError(
            f"{path}: keep_accents={tokenizer_config.get('keep_accents')} with "
            f"do_lower_case={lower_case}: the in-graph tokenizer strips accents exactly "
            "when it lower-cases"
        )
    return SentencePieceTokenizer(model, require_end=False).vocabulary, lower_case


def _hf_byte_bpe(path: str) -> tuple[list[str], list[str]]:
    """Byte-level BPE vocabulary (by id) and merges ("a b" lines): `vocab.json` +
    `merges.txt`, else `tokenizer.json`'s BPE model."""
    vocab_file, merges_file = os.path.join(path, "vocab.json"), os.path.join(path, "merges.txt")
    if os.path.exists(vocab_file) and os.path.exists(merges_file):
        vocab = _read_json(vocab_file)
        merges = [m for m in _read_lines(merges_file) if m and not m.startswith("#version")]
    else:
        tokenizer_json = _read_json(os.path.join(path, "tokenizer.json"), {})
        model = tokenizer_json.get("model") or {}
        if model.get("type") != "BPE":
            raise ValueError(
                f"{path}: no vocab.json + merges.txt and no BPE model in tokenizer.json "
                f"(found {model.get('type')!r})"
            )
        pre = tokenizer_json.get("pre_tokenizer") or {}
        if pre.get("type") != "ByteLevel" or pre.get("add_prefix_space"):
            raise ValueError(
                f"{path}: tokenizer.json's pre-tokenizer must be ByteLevel without "
                f"add_prefix_space (GPT-2's, RoBERTa's), found {pre}"
            )
        vocab = model["vocab"]
        merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    by_id = sorted(vocab.items(), key=lambda item: item[1])
    if [i for _, i in by_id] != list(range(len(by_id))):
        raise ValueError(f"{path}: the BPE vocabulary's ids are not 0..n-1")
    return [token for token, _ in by_id], merges


# === Google BERT (TF1 checkpoint) ===
def _read_google(path: str) -> Checkpoint:
    import tensorflow as tf

    config = _read_json(os.path.join(path, "bert_config.json"))
    index = sorted(glob.glob(os.path.join(path, "*.ckpt*.index")))[0]
    reader = tf.train.load_checkpoint(index[: -len(".index")])
    tensors = {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}
    sizes, dropout = _hf_sizes(config, "bert", path)
    vocabulary = _read_lines(os.path.join(path, "vocab.txt"))
    # The format records no casing: cased vocabularies hold capitalised words.
    lower_case = not any(token[:1].isupper() for token in vocabulary if token[:1] != "[")
    tensors, unused = keras_paths(hf_names_from_google(tensors))
    return Checkpoint("google", "bert", sizes, tensors, vocabulary, lower_case, dropout, unused)


# === keras-hub preset ===
def _read_keras_hub(path: str) -> Checkpoint:
    import keras_hub

    config = _read_json(os.path.join(path, "config.json"))
    if config.get("class_name") != "BertBackbone":
        raise ValueError(
            f"{path}: keras-hub {config.get('class_name')!r} presets are not mapped; "
            "only BertBackbone"
        )
    backbone = keras_hub.models.Backbone.from_preset(path)
    c = config["config"]
    sizes = dict(
        vocabulary_size=c["vocabulary_size"], num_layers=c["num_layers"],
        num_heads=c["num_heads"], hidden_dim=c["hidden_dim"],
        intermediate_dim=c["intermediate_dim"], max_sequence_length=c["max_sequence_length"],
        num_segments=c["num_segments"], embedding_dim=0, normalize_first=False,
        conv_width=0, share_layers=False,
    )  # fmt: skip
    tensors = {w.path: w.numpy() for w in backbone.weights}  # our paths, by design
    tokenizer_dir = os.path.join(path, "assets", "tokenizer")
    vocabulary = _read_lines(os.path.join(tokenizer_dir, "vocabulary.txt"))
    tokenizer_config = _read_json(os.path.join(path, "tokenizer.json"), {}).get("config", {})
    return Checkpoint(
        "keras_hub",
        "bert",
        sizes,
        tensors,
        vocabulary,
        tokenizer_config.get("lowercase", True),
        c.get("dropout", 0.1),
    )


# === Writing the run directory ===
def build_pretrainer(checkpoint: Checkpoint, pair_objective: str | None = None):
    """A `BertPretrainer` (a `GPTCausalLM` for GPT-2) holding the checkpoint's weights,
    and the assignment report."""
    from bertgpt_tf.models.bert_encoder import BertEncoder
    from bertgpt_tf.models.gpt_decoder import GPTDecoder
    from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer
    from bertgpt_tf.tasks.gpt_causal_lm import GPTCausalLM

    if checkpoint.model_type == "gpt2":
        model = GPTCausalLM(GPTDecoder(**checkpoint.sizes, dropout=checkpoint.dropout))
        return model, assign_weights(model, checkpoint.tensors)
    encoder = BertEncoder(**checkpoint.sizes, dropout=checkpoint.dropout)
    if pair_objective is None:
        pair_objective = _pair_objective(checkpoint)
    model = BertPretrainer(encoder, pair_objective=pair_objective, tie_word_embeddings=True)
    report = assign_weights(model, checkpoint.tensors)
    return model, report


def import_checkpoint(path: str, run_dir: str, base_config=None, name: str = "") -> str:
    """Writes the run directory (config.json, model.keras, vocabulary, import.json) of the
    checkpoint at `path`; returns the run dir. `base_config`: a `Config` whose data and
    train fields are kept (its model fields are replaced by the checkpoint's). `name`:
    the model's name in export names (`export_name`; default: `run_dir`'s folder name)."""
    from bertgpt_tf.config import Config

    checkpoint = read_checkpoint(path)
    os.makedirs(run_dir, exist_ok=True)
    model, report = build_pretrainer(checkpoint)
    missing = [p for p in report["missing"] if not p.startswith(("mlm_head", "pair_head"))]
    vocabulary_file = write_vocabulary(checkpoint, run_dir)
    base = base_config or Config.from_preset("mini", recipe="bert")  # the checkpoint's shapes
    task = "clm" if checkpoint.model_type == "gpt2" else "mlm"
    config = base.replace(
        **checkpoint.sizes, dropout=checkpoint.dropout, task=task, model_dir=run_dir,
        tokenizer=checkpoint.tokenizer, vocabulary=vocabulary_file,
        lower_case=checkpoint.lower_case,
        normalization="bert",
        sequence_length=min(base.data.sequence_length, checkpoint.sizes["max_sequence_length"]),
        pair_objective=_pair_objective(checkpoint), init_from="",
        tie_word_embeddings=True,
        export_name=base.train.export_name or name or os.path.basename(os.path.normpath(run_dir)),
    )  # fmt: skip
    if len(checkpoint.vocabulary) != checkpoint.sizes["vocabulary_size"]:
        raise ValueError(
            f"{path}: the vocabulary has {len(checkpoint.vocabulary)} tokens but the model "
            f"{checkpoint.sizes['vocabulary_size']} rows"
        )
    model.save(os.path.join(run_dir, "model.keras"))
    config.to_json(os.path.join(run_dir, "config.json"))
    manifest = {
        "source": os.path.abspath(path),
        "format": checkpoint.format,
        "model_type": checkpoint.model_type,
        "mlm_head": checkpoint.has_mlm_head,
        "pair_head": checkpoint.has_pair_head,
        "parameters": int(sum(np.prod(w.shape) for w in model.backbone.weights)),
        "missing": missing,
        "unused": checkpoint.unused + report["unused"],
    }
    write_json(os.path.join(run_dir, MANIFEST), manifest, indent=2)
    return run_dir


def _pair_objective(checkpoint: Checkpoint) -> str:
    """The pair head's objective: ALBERT's is sentence order, BERT's next sentence."""
    if not checkpoint.has_pair_head:
        return "none"
    return "sop" if checkpoint.model_type == "albert" else "nsp"


def write_vocabulary(checkpoint: Checkpoint, run_dir: str) -> str:
    """The checkpoint's tokenizer files in `run_dir` (`vocab.txt` for WordPiece;
    `vocab.json` + `merges.txt` for byte-level BPE; the SentencePiece model); returns
    the vocabulary path."""
    if checkpoint.tokenizer == "sentencepiece":
        path = os.path.join(run_dir, "spm_unigram.model")
        with open(checkpoint.sentencepiece_model, "rb") as f:
            write_text(path, f.read())
        return path
    if checkpoint.tokenizer == "byte_bpe":
        ids = {token: index for index, token in enumerate(checkpoint.vocabulary)}
        write_json(os.path.join(run_dir, "vocab.json"), ids, ensure_ascii=False)
        write_text(
            os.path.join(run_dir, "merges.txt"), "".join(m + "\n" for m in checkpoint.merges)
        )
        return os.path.join(run_dir, "vocab.json")
    path = os.path.join(run_dir, "vocab.txt")
    write_text(path, "".join(token + "\n" for token in checkpoint.vocabulary))
    return path


def read_manifest(run_dir: str) -> dict | None:
    """The run's import.json, or None for a run pretrained here."""
    return _read_json(os.path.join(run_dir, MANIFEST), None)


def _read_json(path: str, default=...):
    if default is not ... and not os.path.exists(path):
        return default
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _read_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").rstrip("\r") for line in f]


def as_run_dir(source: str, model_dir: str) -> str:
    """`source` when it is a run directory, else the checkpoint imported into
    `<model_dir>/init_from` (re-used when a resumed run finds it there)."""
    if detect_format(source) == "run":
        return source
    run_dir = os.path.join(model_dir, "init_from")
    manifest = read_manifest(run_dir)
    if manifest and manifest["source"] == os.path.abspath(source):
        return run_dir
    return import_checkpoint(source, run_dir, name=os.path.basename(os.path.normpath(source)))

"""One frozen config for a run: model, data and training fields, plus named presets.

Field names are the constructor argument names they feed (`BertEncoder(num_layers=...)`,
`make_mlm_dataset(sequence_length=...)`), so one name means one thing everywhere: in
flags, in `config.json`, in constructors. Unknown keys fail loudly.

Example:
>>> config = Config.from_preset("tiny", steps=10)
>>> config.model.num_layers, config.train.steps
(2, 10)
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from dataclasses import dataclass, field

from bertgpt_tf.hardware import native_bf16


@dataclass(frozen=True)
class ModelConfig:
    """Backbone sizes (BERT encoder now; GPT decoder shares these names)."""

    vocabulary_size: int = 30522  # measured from the vocabulary file (DERIVED_FIELDS)
    num_layers: int = 4
    num_heads: int = 4
    hidden_dim: int = 256
    intermediate_dim: int = 1024
    dropout: float = 0.1
    max_sequence_length: int = 512
    num_segments: int = 2  # BERT family
    normalize_first: bool = False  # BERT family: pre-LN blocks (GPT is always pre-LN)
    tie_word_embeddings: bool = True  # BERT family: MLM head projects with the token embedding
    embedding_dim: int = 0  # BERT family: factorized embedding width (ALBERT); 0 = hidden_dim
    share_layers: bool = False  # BERT family: one block applied num_layers times (ALBERT)
    conv_width: int = 0  # BERT family: convolution over the token embeddings; 0 = off
    # Of every layer norm; 0 = the family's own (BERT 1e-12, GPT 1e-5). Imported RoBERTa: 1e-5.
    layer_norm_epsilon: float = 0.0
    # BERT family: gelu (exact, erf) | gelu_approximate (tanh: ALBERT's and GPT-2's gelu_new)
    activation: str = "gelu"
    generator_fraction: float = 0.25  # ELECTRA: generator width / discriminator width
    discriminator_weight: float = 50.0  # ELECTRA: replaced-token loss weight vs MLM loss
    student_layers: int = 0  # distill: the student's depth; 0 = half the teacher's
    student_hidden_dim: int = 0  # distill: the student's width; 0 = the teacher's
    distill_temperature: float = 2.0  # distill: softmax temperature of the soft targets
    position: str = "learned"  # GPT family: learned | rope
    ffn: str = "gelu"  # GPT family: gelu | swiglu
    target_vocabulary_size: int = 0  # translate: 0 = one vocabulary shared by both sides


@dataclass(frozen=True)
class DataConfig:
    """Where the text comes from and how examples are cut from it."""

    data_dir: str = ""  # "" -> $BERTGPT_DATA_DIR, else ../shared/data
    train_data: str = ""  # a file, folder or glob; "" -> the task's default corpus
    # wordpiece | bpe | sentencepiece | char | byte_bpe (GPT-2's / RoBERTa's, imported
    # checkpoints only); "" -> the task's default
    tokenizer: str = ""
    vocabulary: str = ""  # vocab/model file; "" -> trained into the run dir if missing
    vocabulary_size_target: int = 30522  # size asked of the WordPiece trainer
    vocabulary_max_bytes: int = 40_000_000  # text sampled to train the vocabulary
    lower_case: bool = True
    # WordPiece text normalization: fast_bert (TF-Text's, NFKC case folding: the
    # vocabularies trained here) | bert (the original BERT's / Hugging Face's: NFD,
    # accents stripped, lower-cased; imported checkpoints, whose vocabularies hold "ß"
    # and full-width punctuation that NFKC would rewrite).
    normalization: str = "fast_bert"
    sequence_length: int = 128
    max_predictions_per_seq: int = 20
    mask_rate: float = 0.15
    pair_objective: str = "nsp"  # nsp (BERT) | sop (ALBERT) | none (RoBERTa packing)
    whole_word_masking: bool = False
    validation_fraction: float = 0.01  # of documents (or of the text's tail), held out
    holdout: str = "documents"  # documents (whole ones) | tail (last part of each file)
    shuffle_buffer: int = 10_000
    max_line_bytes: int = 100_000  # longer lines are truncated (and counted)
    # Fine-tuning data: a shared dataset by name, or --train_data (TSV/CSV/JSONL) with
    # these columns.
    dataset: str = ""  # sst2 | chnsenticorp | stsb | conll2003; "" -> the task's default
    text_column: str = "text"
    text_b_column: str = ""  # set for sentence-pair data
    label_column: str = "label"
    # Fine-tuning refuses training texts whose pieces are more than this share [UNK]
    # (a vocabulary that does not cover their script); 1 = never.
    max_unknown_share: float = 0.1
    # Translation (--task=translate): <split>.<language>.gz line-aligned files.
    source_language: str = "en"
    target_language: str = "de"
    shared_vocabulary: bool = True  # one SentencePiece model for both languages
    target_vocabulary: str = ""  # separate vocabularies: the target's model file


@dataclass(frozen=True)
class TrainConfig:
    """Loop, optimizer and run-directory settings."""

    task: str = "mlm"
    model_dir: str = ""  # "" -> runs/<task>-<timestamp>
    batch_size: int = 32  # global: split across replicas
    learning_rate: float = 5e-4
    warmup_steps: int = 1000
    decay: str = "linear"  # linear | cosine
    weight_decay: float = 0.01
    beta_2: float = 0.999  # Adam's second-moment decay (nanoGPT uses 0.99 for small batches)
    steps: int = 100_000
    # >0: passes over the training data, at most `steps` (fine-tuning's default: 3)
    epochs: int = 0
    max_minutes: float = 0.0  # >0: stop (and save) after this wall time
    steps_per_epoch: int = 500  # validation, backup and logging cadence
    validation_steps: int = 50
    checkpoint_every: int = 2000
    mixed_precision: bool = False  # bf16 compute, fp32 variables
    jit_compile: bool = False
    # Training steps per call of the compiled step (Keras' steps_per_execution): one host
    # round trip (callbacks, logs) per call instead of per step. --steps, --steps_per_epoch
    # and --validation_steps must be multiples of it; step-counted callbacks act at calls.
    steps_per_execution: int = 1
    # Multi-worker (bertgpt_tf/training/cluster.py): "" = TF_CONFIG when it describes
    # more than one task, else one machine | tf_config (required) | slurm
    cluster_resolver: str = ""
    seed: int = 0
    export_name: str = ""  # "" -> <task>-<preset>
    preset: str = "mini"
    model: str = "bert"  # bert | roberta | albert: a variant's defaults (MODELS), under flags
    # --task=mlm --model=bert: budget (the default: the best recipe measured on 2 CPU
    # cores, docs/recipes.md) | bert (BERT's own: tied post-LN, NSP pairs, dropout 0.1,
    # fp32, no time budget). RECIPES. "": the other tasks and variants, and continued
    # pretraining (--init_from) unless a recipe is given.
    recipe: str = ""
    teacher: str = ""  # distill: the teacher's mlm run directory
    # Fine-tuning
    init_from: str = ""  # a pretraining run dir; "" or "none": from scratch
    freeze_layers: int = -1  # >=0: train only the top k encoder layers (0: linear probe)
    lora_rank: int = 0  # >0: LoRA on attention and FFN projections (merged at export)
    prefix_length: int = 0  # >0: prompt tuning: learned vectors after [CLS], frozen encoder
    patience: int = 2  # early stopping on the validation metric (0: off)
    # Steps of the linear probe (the head alone on the frozen, untouched backbone) whose
    # test metrics are reported as "before" fine-tuning; 0: off. embed: zero-shot instead.
    probe_steps: int = 300
    # classify / regress: what the head reads: cls (BERT's [CLS] pooler) | mean (the mean
    # of the last layer's token vectors; an encoder pretrained without a pair objective
    # never trained its pooler: docs/recipes.md)
    pooling: str = "cls"
    # embed's training loss: cosine (MSE of cosine and score, Sentence-BERT) | cosent
    # (a ranking loss: only the order of the cosines counts; docs/recipes.md)
    embed_loss: str = "cosine"
    class_weights: bool = False  # weight classes by inverse frequency
    # Translation
    label_smoothing: float = 0.1
    beam_size: int = 4  # beam search at evaluation and export (1 = greedy)
    length_penalty: float = 0.6  # GNMT alpha: beams ranked by log p / ((5 + length) / 6)^alpha


PRESETS: dict[str, dict] = {
    "tiny": dict(num_layers=2, num_heads=2, hidden_dim=128, intermediate_dim=512),
    "mini": dict(num_layers=4, num_heads=4, hidden_dim=256, intermediate_dim=1024),
    "small": dict(num_layers=4, num_heads=8, hidden_dim=512, intermediate_dim=2048),
    "base": dict(num_layers=12, num_heads=12, hidden_dim=768, intermediate_dim=3072),
}

# The MLM pretraining recipe: defaults applied under the model variant's and the flags.
# "budget" is the recipe search's winner on this 2-core CPU (docs/recipes.md): an
# embedding convolution so a masked position sees its neighbours from step 0, pre-LN
# blocks, an untied MLM head, no dropout, packed rows (no padding), bf16 where the
# hardware computes it natively (`from_preset`: `hardware.native_bf16`), and a learning
# rate that warms up and decays to zero at the 60-minute budget (`DecayToBudget`).
RECIPES: dict[str, dict] = {
    "bert": {},
    "budget": dict(
        conv_width=3,
        normalize_first=True,
        tie_word_embeddings=False,
        dropout=0.0,
        pair_objective="none",
        learning_rate=1e-3,
        warmup_steps=100,
        max_minutes=60.0,
        steps_per_epoch=200,
        validation_steps=20,
    ),
}

# A variant is defaults over the shared blocks, applied after the preset and before flags.
MODELS: dict[str, dict] = {
    "bert": {},
    # RoBERTa: no pair objective, FULL-SENTENCES packing, dynamic masking (always on
    # here), larger batches.
    "roberta": dict(pair_objective="none", batch_size=128),
    # ALBERT: factorized embedding (E=128), cross-layer sharing, sentence-order objective.
    "albert": dict(embedding_dim=128, share_layers=True, pair_objective="sop"),
}


# Pretraining tasks whose result is a BERT encoder (what fine-tuning loads).
ENCODER_PRETRAINING = ("mlm", "electra", "distill")

# The tokenizer a task uses when --tokenizer is not given.
DEFAULT_TOKENIZER = {"mlm": "wordpiece", "clm": "bpe", "translate": "bpe"}
# Fields a task sets differently from the defaults above, applied with the variant's
# (flags still override them). ELECTRA and DistilBERT train on MLM batches without a
# pair objective. translate: Multi30k captions fit 48 tokens (99.9 %), a small corpus
# wants a small vocabulary, and pre-LN blocks train stably at the higher learning rates
# a short run needs.
TASK_DEFAULTS: dict[str, dict] = {
    # fine-tuning: 3 passes over the training split (BERT's paper), at most --steps
    **dict.fromkeys(("classify", "regress", "embed", "ner"), dict(epochs=3)),
    "electra": dict(pair_objective="none"),
    "distill": dict(pair_objective="none"),
    "translate": dict(
        sequence_length=48, vocabulary_size_target=8000, normalize_first=True, batch_size=64
    ),
}

_FINETUNING = ("classify", "regress", "embed", "ner", "evaluate")
_BERT_FAMILY = (*ENCODER_PRETRAINING, *_FINETUNING[:-1])  # fine-tuning from scratch: BERT
# Fields that only some tasks read: giving one to another task is warned about
# (`fields_ignored_by`), never silently dropped. Fields not listed apply to every task
# that trains, or are read from the run (export, fill_mask, generate, report).
FIELD_TASKS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("mask_rate", "max_predictions_per_seq", "whole_word_masking", "pair_objective"),
        ENCODER_PRETRAINING,
    ),
    **dict.fromkeys(
        ("embedding_dim", "share_layers", "conv_width", "num_segments", "activation"),
        _BERT_FAMILY,
    ),
    "normalize_first": (*_BERT_FAMILY, "translate"),
    "tie_word_embeddings": ENCODER_PRETRAINING,  # the MLM head's projection
    "recipe": ("mlm",),
    **dict.fromkeys(("position", "ffn"), ("clm",)),
    **dict.fromkeys(("generator_fraction", "discriminator_weight"), ("electra",)),
    **dict.fromkeys(
        ("teacher", "student_layers", "student_hidden_dim", "distill_temperature"), ("distill",)
    ),
    **dict.fromkeys(
        (
            "source_language",
            "target_language",
            "shared_vocabulary",
            "target_vocabulary",
            "target_vocabulary_size",
            "label_smoothing",
            "beam_size",
            "length_penalty",
        ),
        ("translate",),
    ),  # fmt: skip
    **dict.fromkeys(
        (
            "text_column",
            "text_b_column",
            "label_column",
            "max_unknown_share",
            "patience",
            "probe_steps",
            "class_weights",
            "freeze_layers",
            "lora_rank",
            "prefix_length",
        ),
        _FINETUNING,
    ),  # fmt: skip
    "embed_loss": ("embed",),
    "pooling": ("classify", "regress"),
    "dataset": (*_FINETUNING, "report"),
    "cluster_resolver": (*ENCODER_PRETRAINING, "clm", *_FINETUNING[:-1], "translate"),
}


EMBED_LOSSES = ("cosine", "cosent")  # --embed_loss: SiameseSimilarity's training loss
POOLINGS = ("cls", "mean")  # --pooling: what TextClassifier's head reads

# Fields measured from the data (config.json records them): never set by hand.
DERIVED_FIELDS = {
    "vocabulary_size": "the --vocabulary file's size, measured; a vocabulary trained here "
    "takes its size from --vocabulary_size_target",
    "target_vocabulary_size": "the --target_vocabulary file's size, measured; a vocabulary "
    "trained here takes its size from --vocabulary_size_target",
}


def fields_ignored_by(task: str, given: list[str]) -> list[str]:
    """The fields among `given` (flags set on the command line) that `task` does not
    read, by `FIELD_TASKS`. Raises ValueError for a field measured from the data."""
    for name in given:
        if name in DERIVED_FIELDS:
            raise ValueError(f"--{name} is not a setting: it is {DERIVED_FIELDS[name]}")
    return [name for name in given if task not in FIELD_TASKS.get(name, (task,))]


_SECTIONS = {"model": ModelConfig, "data": DataConfig, "train": TrainConfig}


def config_fields() -> dict[str, dataclasses.Field]:
    """Every settable field by its (unique) name, across sections."""
    found = {}
    for cls in _SECTIONS.values():
        for f in dataclasses.fields(cls):
            assert f.name not in found, f"field {f.name} defined twice"
            found[f.name] = f
    return found


@dataclass(frozen=True)
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    @classmethod
    def from_preset(cls, preset: str = "mini", **overrides) -> Config:
        """Preset sizes, then the recipe's (`--task=mlm --model=bert` only), the `model`
        variant's and the task's defaults (`RECIPES`, `MODELS`, `TASK_DEFAULTS`), then
        `overrides` (flat field names). Unknown names raise."""
        if preset not in PRESETS:
            raise ValueError(f"Unknown preset {preset!r}; choose from {sorted(PRESETS)}")
        model = overrides.get("model", "bert")
        if model not in MODELS:
            raise ValueError(f"Unknown model {model!r}; choose from {sorted(MODELS)}")
        task = overrides.get("task", "mlm")
        recipe = overrides.get("recipe", "")  # an unknown name: `validate` refuses it
        from_scratch = overrides.get("init_from", "") in ("", "none")
        if task == "mlm" and model == "bert":
            # continued pretraining keeps BERT's defaults unless a recipe is asked for
            recipe = recipe or ("budget" if from_scratch else "")
        elif recipe:
            raise ValueError(
                f"--recipe is for --task=mlm --model=bert (a variant keeps its paper's "
                f"recipe), not --task={task} --model={model}"
            )
        defaults = {
            **PRESETS[preset],
            **RECIPES.get(recipe, {}),
            **MODELS[model],
            **TASK_DEFAULTS.get(task, {}),
        }
        if recipe == "budget" and "mixed_precision" not in overrides:  # bf16 where it wins
            defaults["mixed_precision"] = native_bf16()
        return cls().replace(**{**defaults, "preset": preset, **overrides, "recipe": recipe})

    def replace(self, **overrides) -> Config:
        unknown = set(overrides) - set(config_fields())
        if unknown:
            raise ValueError(f"Unknown config keys: {sorted(unknown)}")
        sections = {}
        for name, section_cls in _SECTIONS.items():
            own = {k: v for k, v in overrides.items() if k in section_cls.__dataclass_fields__}
            sections[name] = dataclasses.replace(getattr(self, name), **own)
        config = Config(**sections)
        config.validate()
        return config

    def validate(self) -> None:
        m, d, t = self.model, self.data, self.train
        if m.hidden_dim % m.num_heads:
            raise ValueError(
                f"hidden_dim={m.hidden_dim} is not divisible by num_heads={m.num_heads}"
            )
        if m.embedding_dim < 0 or (m.embedding_dim and m.embedding_dim > m.hidden_dim):
            raise ValueError(
                f"embedding_dim={m.embedding_dim} must be in [1, hidden_dim={m.hidden_dim}]"
                " (0: hidden_dim)"
            )
        if t.recipe and t.recipe not in RECIPES:
            raise ValueError(f"Unknown recipe {t.recipe!r}; choose from {sorted(RECIPES)}")
        if t.model not in MODELS:
            raise ValueError(f"Unknown model {t.model!r}; choose from {sorted(MODELS)}")
        if d.pair_objective not in ("nsp", "sop", "none"):
            raise ValueError(f"pair_objective must be nsp|sop|none, got {d.pair_objective!r}")
        if d.sequence_length > m.max_sequence_length:
            raise ValueError("sequence_length exceeds max_sequence_length")
        if not 0 < d.mask_rate < 1:
            raise ValueError(f"mask_rate must be in (0, 1), got {d.mask_rate}")
        if d.tokenizer not in ("", "wordpiece", "bpe", "sentencepiece", "char", "byte_bpe"):
            raise ValueError(
                f"tokenizer must be wordpiece|bpe|sentencepiece|char|byte_bpe, got {d.tokenizer!r}"
            )
        if m.activation not in ("gelu", "gelu_approximate"):
            raise ValueError(f"activation must be gelu|gelu_approximate, got {m.activation!r}")
        if m.layer_norm_epsilon < 0:
            raise ValueError(f"layer_norm_epsilon must be >= 0, got {m.layer_norm_epsilon}")
        if d.normalization not in ("fast_bert", "bert"):
            raise ValueError(f"normalization must be fast_bert|bert, got {d.normalization!r}")
        if not 0 <= d.max_unknown_share <= 1:
            raise ValueError(f"max_unknown_share must be in [0, 1], got {d.max_unknown_share}")
        if d.holdout not in ("documents", "tail"):
            raise ValueError(f"holdout must be documents|tail, got {d.holdout!r}")
        if m.position not in ("learned", "rope") or m.ffn not in ("gelu", "swiglu"):
            raise ValueError(
                f"position must be learned|rope and ffn gelu|swiglu: {m.position}, {m.ffn}"
            )
        if sum([bool(t.lora_rank), t.freeze_layers >= 0, bool(t.prefix_length)]) > 1:
            raise ValueError("choose one of --lora_rank, --freeze_layers and --prefix_length")
        if t.prefix_length and t.task not in ("classify", "regress"):
            raise ValueError(
                f"--prefix_length (prompt tuning) is for classify/regress, not {t.task}"
            )
        if t.pooling not in POOLINGS:
            raise ValueError(f"pooling must be {'|'.join(POOLINGS)}, got {t.pooling!r}")
        if t.pooling != "cls" and t.prefix_length:
            raise ValueError(
                "prompt tuning (--prefix_length) reads the [CLS] pooler: --pooling=cls"
            )
        if t.embed_loss not in EMBED_LOSSES:
            raise ValueError(f"embed_loss must be {'|'.join(EMBED_LOSSES)}, got {t.embed_loss!r}")
        if t.cluster_resolver not in ("", "tf_config", "slurm"):
            raise ValueError(
                f"cluster_resolver must be tf_config|slurm (or empty), got {t.cluster_resolver!r}"
            )
        k = t.steps_per_execution
        if k < 1:
            raise ValueError(f"steps_per_execution must be >= 1, got {k}")
        for name in ("steps", "steps_per_epoch", "validation_steps"):
            if getattr(t, name) % k:
                raise ValueError(
                    f"--{name}={getattr(t, name)} is not a multiple of "
                    f"--steps_per_execution={k}: a call of the compiled step runs {k} steps"
                )
        if t.decay not in ("linear", "cosine"):
            raise ValueError(f"decay must be linear|cosine, got {t.decay!r}")
        if t.beam_size < 1 or not 0 <= t.label_smoothing < 1:
            raise ValueError(
                f"need beam_size >= 1 and 0 <= label_smoothing < 1: {t.beam_size}, "
                f"{t.label_smoothing}"
            )

    @property
    def tokenizer_kind(self) -> str:
        """`data.tokenizer`, else the task's default (wordpiece for mlm, bpe for clm)."""
        return self.data.tokenizer or DEFAULT_TOKENIZER.get(self.train.task, "wordpiece")

    @property
    def export_name(self) -> str:
        """The SavedModel's folder name: `train.export_name`, else `<task>-<preset>`.
        Fine-tuning from a named run (an imported checkpoint is named after its folder)
        sets `<task>-<that name>`, e.g. `classify-minilm`."""
        return self.train.export_name or f"{self.train.task}-{self.train.preset}"

    def export_name_after(self, start: Config) -> str:
        """`train.export_name` of a run that starts from `start`'s weights: the one
        given, else `<task>-<start's export_name>` when `start` has one, else ""."""
        if self.train.export_name or not start.train.export_name:
            return self.train.export_name
        return f"{self.train.task}-{start.train.export_name}"

    def model_kwargs(self, model_class) -> dict:
        """The model fields `model_class`'s constructor takes (families share names;
        `layer_norm_epsilon` 0 leaves the constructor's own default)."""
        accepted = inspect.signature(model_class.__init__).parameters
        fields = dataclasses.asdict(self.model)
        if not fields["layer_norm_epsilon"]:
            del fields["layer_norm_epsilon"]
        return {k: v for k, v in fields.items() if k in accepted}

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self, path: str) -> None:
        """Writes the config as JSON (write-then-rename: a kill leaves the old file)."""
        from bertgpt_tf.atomic_file import write_json

        write_json(path, self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, path: str) -> Config:
        with open(path) as f:
            raw = json.load(f)
        flat = {k: v for section in raw.values() for k, v in section.items()}
        return cls().replace(**flat)

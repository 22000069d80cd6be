"""The trainable model of a pretraining task, from the run config."""

import os

import keras

from bertgpt_tf.checkpoints.import_checkpoint import read_manifest
from bertgpt_tf.config import Config
from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.models.gpt_decoder import GPTDecoder
from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer
from bertgpt_tf.tasks.distill_pretrainer import DistillPretrainer
from bertgpt_tf.tasks.electra_pretrainer import ElectraPretrainer
from bertgpt_tf.tasks.gpt_causal_lm import GPTCausalLM
from bertgpt_tf.tasks.load_task_model import load_task_model


def build_model(config: Config) -> keras.Model:
    """`mlm` -> BertPretrainer(BertEncoder), `electra` -> ElectraPretrainer(BertEncoder),
    `distill` -> DistillPretrainer(the --teacher run's BertPretrainer), `clm` ->
    GPTCausalLM(GPTDecoder)."""
    task, m = config.train.task, config.model
    if task in ("mlm", "clm") and config.train.init_from not in ("", "none"):  # continued
        start = load_task_model(os.path.join(config.train.init_from, "model.keras"))
        return start  # its backbone and heads (an imported one without an MLM head: fresh)
    if task == "mlm":
        encoder = BertEncoder(**config.model_kwargs(BertEncoder))
        return BertPretrainer(encoder, config.data.pair_objective, m.tie_word_embeddings)
    if task == "electra":
        encoder = BertEncoder(**config.model_kwargs(BertEncoder))
        return ElectraPretrainer(
            encoder, m.generator_fraction, m.discriminator_weight, config.train.seed
        )
    if task == "distill":
        teacher = load_task_model(_teacher_files(config)[1])
        manifest = read_manifest(config.train.teacher) or {}
        soft_weight = 5.0 if manifest.get("mlm_head", True) else 0.0  # untrained head: off
        return DistillPretrainer(
            teacher, m.num_layers, m.distill_temperature, soft_weight=soft_weight,
            student_hidden_dim=m.student_hidden_dim,
        )  # fmt: skip
    if task == "clm":
        return GPTCausalLM(GPTDecoder(**config.model_kwargs(GPTDecoder)))
    raise ValueError(f"No pretraining model for task {task!r} (mlm | electra | distill | clm)")


def resolve_teacher(config: Config) -> Config:
    """`--task=distill`: the teacher run's sizes, tokenizer, vocabulary and casing, with
    the student's depth (`student_layers`, else half the teacher's) as `num_layers`."""
    teacher_config = Config.from_json(_teacher_files(config)[0])
    if teacher_config.train.task != "mlm":
        raise ValueError(
            f"--teacher={config.train.teacher} is a {teacher_config.train.task!r} run; "
            "distillation needs an mlm run"
        )
    # the teacher's shape; the student's own settings (dropout, temperature) stay the flags'
    own = ("dropout", "distill_temperature", "student_layers", "student_hidden_dim")
    sizes = {k: v for k, v in teacher_config.to_dict()["model"].items() if k not in own}
    depth = config.model.student_layers or max(1, sizes["num_layers"] // 2)
    width = config.model.student_hidden_dim
    if width and width != sizes["hidden_dim"]:  # a narrower student: the teacher's head size
        head_size = sizes["hidden_dim"] // sizes["num_heads"]
        ratio = sizes["intermediate_dim"] // sizes["hidden_dim"]
        sizes.update(hidden_dim=width, num_heads=max(1, width // head_size),
                     intermediate_dim=ratio * width)  # fmt: skip
    sizes["student_hidden_dim"] = width
    return config.replace(
        **{**sizes, "num_layers": depth, "student_layers": depth},
        normalization=teacher_config.data.normalization,
        tokenizer=teacher_config.tokenizer_kind, vocabulary=teacher_config.data.vocabulary,
        lower_case=teacher_config.data.lower_case,
    )  # fmt: skip


def _teacher_files(config: Config) -> tuple[str, str]:
    """(config.json, model.keras) of `--teacher`, or a clear error."""
    teacher = config.train.teacher
    files = (os.path.join(teacher, "config.json"), os.path.join(teacher, "model.keras"))
    if not teacher or not all(os.path.exists(f) for f in files):
        raise ValueError(f"--task=distill needs --teacher=<a finished mlm run>, got {teacher!r}")
    return files

"""Parameter counts of the variants at one preset (same hidden size), side by side:

    python -m benchmarks.variant_sizes [--preset=mini] [--vocabulary_size=30522]

Counts the encoder (what fine-tuning loads) and the whole pretraining model (heads,
ELECTRA's generator, DistilBERT's frozen teacher) of BERT, RoBERTa, ALBERT, ELECTRA and
a DistilBERT student, each built from the shared `BertEncoder` by its config.
"""

from absl import app, flags

from bertgpt_tf.config import Config
from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.tasks.build_model import build_model
from bertgpt_tf.tasks.distill_pretrainer import DistillPretrainer

flags.DEFINE_string("preset", "mini", "model size preset")
flags.DEFINE_integer("vocabulary_size", 30522, "vocabulary size")
FLAGS = flags.FLAGS


def variant_configs(preset: str, vocabulary_size: int) -> dict[str, Config]:
    common = dict(vocabulary_size=vocabulary_size)
    return {
        "bert": Config.from_preset(preset, recipe="bert", **common),  # BERT's own shapes
        "roberta": Config.from_preset(preset, model="roberta", **common),
        "albert": Config.from_preset(preset, model="albert", **common),
        "electra": Config.from_preset(preset, task="electra", **common),
    }


def size_table(preset: str, vocabulary_size: int) -> str:
    configs = variant_configs(preset, vocabulary_size)
    models = {name: build_model(config) for name, config in configs.items()}
    models["distilbert"] = DistillPretrainer(
        models["bert"], max(1, configs["bert"].model.num_layers // 2)
    )
    bert_encoder = models["bert"].backbone.count_params()
    lines = [
        f"Parameters at preset {preset!r} (hidden {configs['bert'].model.hidden_dim}), "
        f"vocabulary {vocabulary_size:,}",
        "",
        "| variant | encoder parameters | vs BERT | pretraining model parameters |",
        "|---|---|---|---|",
    ]
    for name, model in models.items():
        encoder: BertEncoder = model.backbone
        count = encoder.count_params()
        lines.append(
            f"| {name} | {count:,} | {count / bert_encoder:.2f}x | {model.count_params():,} |"
        )
    return "\n".join(lines)


def main(argv):
    del argv
    print(size_table(FLAGS.preset, FLAGS.vocabulary_size))


if __name__ == "__main__":
    app.run(main)

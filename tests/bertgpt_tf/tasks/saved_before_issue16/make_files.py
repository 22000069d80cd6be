"""Writes one tiny model.keras per task model class into the given folder.

Run at 8ed928c (before issue 16 renamed every task model's backbone to `backbone`),
it wrote the files in tests/bertgpt_tf/tasks/saved_before_issue16/: configs naming the
backbone `encoder` / `decoder` / `seq2seq`, and ELECTRA's and DistilBERT's (subclassed
models, whose files hold sub-models under attribute names) weights under `encoder/`.
Constructor arguments are positional, so it runs before and after the rename.

    python tests/bertgpt_tf/tasks/saved_before_issue16/make_files.py <folder>
"""

import os
import sys
import zipfile

import keras

from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.models.gpt_decoder import GPTDecoder
from bertgpt_tf.models.seq2seq_transformer import Seq2SeqTransformer
from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer
from bertgpt_tf.tasks.distill_pretrainer import DistillPretrainer
from bertgpt_tf.tasks.electra_pretrainer import ElectraPretrainer
from bertgpt_tf.tasks.gpt_causal_lm import GPTCausalLM
from bertgpt_tf.tasks.sentence_embedder import SentenceEmbedder
from bertgpt_tf.tasks.text_classifier import TextClassifier
from bertgpt_tf.tasks.token_classifier import TokenClassifier
from bertgpt_tf.tasks.translator import Translator

SIZES = dict(vocabulary_size=20, num_heads=1, hidden_dim=4, intermediate_dim=8,
             max_sequence_length=8)  # fmt: skip


def models() -> dict[str, keras.Model]:
    keras.utils.set_random_seed(0)
    encoder = lambda layers=1: BertEncoder(num_layers=layers, **SIZES)  # noqa: E731
    decoder = lambda: GPTDecoder(num_layers=1, **SIZES)  # noqa: E731
    return {
        "mlm": BertPretrainer(encoder(), "nsp"),
        "electra": ElectraPretrainer(encoder(), 1.0),
        "distill": DistillPretrainer(BertPretrainer(encoder(2), "none"), 1),
        "clm": GPTCausalLM(decoder()),
        "classify": TextClassifier(encoder(), 3),
        "classify_gpt": TextClassifier(decoder(), 2),
        "prompt": TextClassifier(encoder(), 2, 0.1, 2),
        "ner": TokenClassifier(encoder(), 5),
        "embed": SentenceEmbedder(encoder()),
        "translate": Translator(Seq2SeqTransformer(num_layers=1, **SIZES)),
    }


def main(folder: str) -> None:
    os.makedirs(folder, exist_ok=True)
    for name, model in models().items():
        path = os.path.join(folder, f"{name}.keras")
        model.save(path)
        with zipfile.ZipFile(path) as stored:  # deflated: a fifth of the size
            entries = {info.filename: stored.read(info) for info in stored.infolist()}
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as packed:
            for entry, data in entries.items():
                packed.writestr(entry, data)


if __name__ == "__main__":
    main(sys.argv[1])

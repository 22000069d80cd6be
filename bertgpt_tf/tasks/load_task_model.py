"""load_task_model: a saved task model (`model.keras`), of any task, of this version or
one saved before issue 16 (`legacy_files`)."""

import keras

from bertgpt_tf.tasks import (  # noqa: F401  (registers every task model class)
    bert_pretrainer,
    distill_pretrainer,
    electra_pretrainer,
    gpt_causal_lm,
    sentence_embedder,
    text_classifier,
    token_classifier,
    translator,
)
from bertgpt_tf.tasks.legacy_files import upgraded_model_file


def load_task_model(path: str, compile: bool = False) -> keras.Model:
    """`keras.saving.load_model(path)` for every task model class; its backbone is
    `.backbone`."""
    with upgraded_model_file(path) as upgraded:
        return keras.saving.load_model(upgraded, compile=compile)

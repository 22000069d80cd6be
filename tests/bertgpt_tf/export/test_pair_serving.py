"""Pair signatures (`encode_pair`, pair `classify`, `similarity`) refuse a request whose
`text` and `text_b` differ in rows with an InvalidArgument naming both sizes, in memory
and in the SavedModel reloaded by a process with only tensorflow + tensorflow_text
(issue 13, item 6)."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from bertgpt_tf.export.classifier_serving import TextClassifierServing
from bertgpt_tf.export.embed_serving import EmbedServing
from bertgpt_tf.export.mlm_serving import MaskedLMServing
from bertgpt_tf.export.saved_model import export_saved_model
from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer
from bertgpt_tf.tasks.sentence_embedder import SentenceEmbedder
from bertgpt_tf.tasks.text_classifier import TextClassifier
from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer

THREE = ["the quick brown fox", "a lazy dog", "people walk"]
ONE = ["the river bank"]
MESSAGE = "text has 3 rows and text_b has 1: a pair request needs as many of each"
# (module kind, signature name)
SIGNATURES = [("mlm", "encode_pair"), ("classify", "classify"), ("embed", "similarity")]

RELOAD = """
import json, sys
import tensorflow as tf, tensorflow_text  # noqa: F401
calls, mismatched, matching = (json.loads(a) for a in sys.argv[1:])
answers = {}
for kind, path, name in calls:
    signature = tf.saved_model.load(path).signatures[name]
    try:
        signature(**{k: tf.constant(v) for k, v in mismatched.items()})
        answers[kind] = "no error"
    except tf.errors.InvalidArgumentError as e:
        answers[kind] = e.message
    outputs = signature(**{k: tf.constant(v) for k, v in matching.items()})
    answers[kind + " rows"] = [int(v.shape[0]) for v in outputs.values()]
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def modules(tiny_vocabulary):
    keras.utils.set_random_seed(0)
    tokenizer = WordPieceTokenizer(tiny_vocabulary, special_tokens_in_strings=True)
    encoder = BertEncoder(
        vocabulary_size=tokenizer.vocabulary_size, num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=32,
    )  # fmt: skip
    return {
        "mlm": MaskedLMServing(BertPretrainer(encoder, "nsp"), tokenizer, sequence_length=16),
        "classify": TextClassifierServing(
            TextClassifier(encoder, 2), tokenizer, 16, ["neg", "pos"], pair=True
        ),
        "embed": EmbedServing(SentenceEmbedder(encoder), tokenizer, 16),
    }


def test_mismatched_pair_is_refused_in_memory(modules):
    module = modules["embed"]  # it used to answer 3 + 1 texts with 2 wrong scores
    with pytest.raises(tf.errors.InvalidArgumentError, match=MESSAGE):
        module.call_signature("similarity", {"text": np.array(THREE), "text_b": np.array(ONE)})
    same = module.call_signature("similarity", {"text": np.array(THREE), "text_b": np.array(THREE)})
    np.testing.assert_allclose(same["score"], [1, 1, 1], rtol=1e-5)


def test_mismatched_pair_is_refused_by_the_reloaded_savedmodel(modules, tmp_path):
    calls = [
        (kind, export_saved_model(modules[kind], str(tmp_path), f"{kind}-pair"), name)
        for kind, name in SIGNATURES
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", RELOAD, json.dumps(calls),
         json.dumps({"text": THREE, "text_b": ONE}), json.dumps({"text": ONE * 2, "text_b": ONE * 2})],
        env=env, capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    answers = json.loads(done.stdout.strip().splitlines()[-1])
    for kind, _ in SIGNATURES:
        assert MESSAGE in answers[kind], (kind, answers[kind])
        assert set(answers[kind + " rows"]) == {2}, kind  # matching sizes still answer

"""The translation SavedModel, reloaded in fresh tensorflow + tensorflow_text processes
(and under TF 2.20), translates exactly as the in-memory module does; it passes the
servability check."""

import keras
import numpy as np
import pytest

from bertgpt_tf.export.saved_model import export_saved_model
from bertgpt_tf.export.translate_serving import TranslateServing
from bertgpt_tf.models.seq2seq_transformer import Seq2SeqTransformer
from bertgpt_tf.tokenizers.sentencepiece_tokenizer import SentencePieceTokenizer
from bertgpt_tf.tokenizers.sentencepiece_vocab import train_sentencepiece
from tests.translation_corpus import write_parallel_corpus

TEXTS = ["A man runs in the park.", "", "Ein Hund — 🙂 ünïcode", "the dog " * 30]


@pytest.fixture(scope="module", params=[1, 3], ids=["greedy", "beam3"])
def exported(request, tmp_path_factory):
    keras.utils.set_random_seed(0)
    sources, targets = write_parallel_corpus(str(tmp_path_factory.mktemp("corpus")))["train"]
    tokenizer = SentencePieceTokenizer(train_sentencepiece(sources + targets, 340, progress=False))
    seq2seq = Seq2SeqTransformer(
        tokenizer.vocabulary_size, num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=16,
    )  # fmt: skip
    module = TranslateServing(seq2seq, tokenizer, tokenizer, 12, beam_size=request.param)
    path = export_saved_model(module, str(tmp_path_factory.mktemp("saved")), "translate-test")
    return module, path


def test_translate_answers_every_text(exported):
    module, _ = exported
    out = module.call_signature("translate", {"text": np.array(TEXTS, object)})["translation"]
    assert out.shape == (4,) and out.dtype == object
    assert module.translate_texts(TEXTS, batch_size=3) == [t.decode() for t in out]


def test_export_is_servable_and_matches_in_memory(exported, assert_servable):
    module, path = exported
    extra = [("translate", {"text": np.array(TEXTS, object)})]
    # serving_default + 2 warmup requests + the extra one, each columnar and row: 1 output
    assert assert_servable(module, path, extra) == 8

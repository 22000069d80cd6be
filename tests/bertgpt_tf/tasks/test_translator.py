"""Translator: compiled with the label-smoothed token loss, it learns a tiny corpus."""

import keras
import numpy as np
import pytest

from bertgpt_tf.config import Config
from bertgpt_tf.tasks.weighted_token_loss import WeightedTokenLoss
from bertgpt_tf.tokenizers.sentencepiece_tokenizer import SentencePieceTokenizer
from bertgpt_tf.tokenizers.sentencepiece_vocab import train_sentencepiece
from bertgpt_tf.training.translate import build_translator
from pipelines.translation_dataset import make_translation_dataset
from tests.translation_corpus import write_parallel_corpus


def test_label_smoothing_matches_its_definition():
    logits = np.array([[[2.0, 0.5, -1.0], [0.0, 1.0, 3.0]]], "float32")
    labels, weights = np.array([[0, 2]]), np.array([[1.0, 0.0]])
    log_p = logits[0, 0] - np.log(np.exp(logits[0, 0]).sum())
    plain = float(WeightedTokenLoss()(labels, logits, weights))
    smoothed = float(WeightedTokenLoss(0.1)(labels, logits, weights))
    np.testing.assert_allclose(plain, -log_p[0], rtol=1e-6)
    np.testing.assert_allclose(smoothed, 0.9 * -log_p[0] + 0.1 * -log_p.mean(), rtol=1e-6)
    assert WeightedTokenLoss.from_config(WeightedTokenLoss(0.1).get_config()).label_smoothing == 0.1


@pytest.mark.parametrize("shared", [True, False])
def test_training_lowers_the_loss_on_a_tiny_corpus(shared, tmp_path):
    keras.utils.set_random_seed(0)
    sources, targets = write_parallel_corpus(str(tmp_path))["train"]
    source = SentencePieceTokenizer(
        train_sentencepiece(sources + (targets if shared else []), 340, progress=False)
    )
    target = source if shared else SentencePieceTokenizer(
        train_sentencepiece(targets, 320, progress=False)
    )  # fmt: skip
    config = Config.from_preset(
        "tiny", task="translate", num_layers=1, hidden_dim=32, intermediate_dim=64, dropout=0.0,
        vocabulary_size=source.vocabulary_size,
        target_vocabulary_size=0 if shared else target.vocabulary_size,
    )  # fmt: skip
    assert config.data.sequence_length == 48 and config.model.normalize_first  # task defaults
    dataset = make_translation_dataset(sources, targets, source, target, 16, 32, 0, True)
    model = build_translator(config)
    model.compile(keras.optimizers.Adam(3e-3))
    batches = list(dataset.take(4))
    before = np.mean([model.evaluate(x, y, sample_weight=w, verbose=0)[0] for x, y, w in batches])
    history = model.fit(dataset, steps_per_epoch=40, epochs=1, verbose=0, shuffle=False)
    after = np.mean([model.evaluate(x, y, sample_weight=w, verbose=0)[0] for x, y, w in batches])
    assert after < 0.6 * before, (before, after, history.history)
    assert model.output_shape[-1] == target.vocabulary_size

"""Seq2SeqTransformer: builds, round-trips its config, and its cached decoding path gives
the teacher-forced logits (the parity test of the encoder-decoder family)."""

import keras
import numpy as np
import pytest

from bertgpt_tf.models.seq2seq_transformer import Seq2SeqTransformer

SIZES = dict(num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, max_sequence_length=12)


def _inputs(batch=3, source=7, target=6, vocabulary=30, target_vocabulary=20, seed=0):
    rng = np.random.default_rng(seed)
    encoder_mask = np.ones((batch, source), "int32")
    encoder_mask[1, 4:] = 0  # a padded source
    decoder_mask = np.ones((batch, target), "int32")
    decoder_mask[2, 3:] = 0  # a padded target (right padding)
    return {
        "encoder_token_ids": rng.integers(3, vocabulary, (batch, source)).astype("int32")
        * encoder_mask,
        "encoder_padding_mask": encoder_mask,
        "decoder_token_ids": rng.integers(3, target_vocabulary, (batch, target)).astype("int32"),
        "decoder_padding_mask": decoder_mask,
    }


@pytest.mark.parametrize("target_vocabulary_size", [0, 20])
def test_builds_shares_embeddings_and_round_trips(target_vocabulary_size, tmp_path):
    keras.utils.set_random_seed(0)
    model = Seq2SeqTransformer(30, target_vocabulary_size=target_vocabulary_size, **SIZES)
    inputs = _inputs()
    logits = model(inputs)["logits"]
    assert logits.shape == (3, 6, target_vocabulary_size or 30)
    embeddings = [w for w in model.weights if "embeddings" in w.path and "position" not in w.path]
    assert len(embeddings) == (2 if target_vocabulary_size else 1)  # shared: one matrix
    clone = Seq2SeqTransformer.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone(inputs)["logits"], logits, atol=1e-6)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.get_config() == model.get_config()
    np.testing.assert_allclose(loaded(inputs)["logits"], logits, atol=1e-6)


@pytest.mark.parametrize("normalize_first", [True, False])
def test_cached_decoding_equals_teacher_forcing(normalize_first):
    """Token-by-token decoding with the self- and cross-attention caches reproduces the
    teacher-forced logits at every real target position (tolerance 1e-5, float32)."""
    keras.utils.set_random_seed(1)
    model = Seq2SeqTransformer(30, normalize_first=normalize_first, **SIZES)
    inputs = _inputs(seed=1)
    expected = model(inputs)["logits"].numpy()  # (batch, target, vocabulary)
    encoder_output = model.encode(inputs["encoder_token_ids"], inputs["encoder_padding_mask"])
    self_cache = model.initial_cache(3, 8)
    cross_cache = model.initial_cache(3, 7)
    steps = []
    for i in range(6):
        logits, self_cache, cross_cache = model.call_decoder_with_cache(
            inputs["decoder_token_ids"][:, i : i + 1], encoder_output,
            inputs["encoder_padding_mask"], self_cache, i, cross_cache, 0 if i == 0 else None,
        )  # fmt: skip
        steps.append(logits[:, 0])
    cached = np.stack(steps, axis=1)
    real = inputs["decoder_padding_mask"].astype(bool)
    np.testing.assert_allclose(cached[real], expected[real], atol=1e-5)
    # the source padding matters: changing padded source ids changes nothing,
    # changing a real one changes the logits
    padded = dict(inputs, encoder_token_ids=inputs["encoder_token_ids"].copy())
    padded["encoder_token_ids"][1, 5] = 9
    np.testing.assert_allclose(model(padded)["logits"], expected, atol=1e-5)
    padded["encoder_token_ids"][1, 0] += 1
    assert np.abs(model(padded)["logits"][1] - expected[1]).max() > 1e-4

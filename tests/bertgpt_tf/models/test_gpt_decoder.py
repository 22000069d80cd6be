import keras
import keras_hub
import numpy as np
import pytest

from bertgpt_tf.models.gpt_decoder import GPTDecoder

CONFIG = dict(
    vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64,
    max_sequence_length=32,
)  # fmt: skip
VARIANTS = [(p, f) for p in ("learned", "rope") for f in ("gelu", "swiglu")]


def _decoder(position="learned", ffn="gelu", **kwargs):
    return GPTDecoder(**CONFIG, position=position, ffn=ffn, **kwargs)


def _token_ids(batch=2, length=9, seed=0):
    return np.random.default_rng(seed).integers(0, 50, (batch, length)).astype("int32")


def _inputs(token_ids, padding_mask=None):
    if padding_mask is None:
        padding_mask = np.ones_like(token_ids)
    return {"token_ids": token_ids, "padding_mask": padding_mask}


def _logits(decoder, token_ids, padding_mask=None):
    return np.asarray(decoder(_inputs(token_ids, padding_mask))["logits"])


@pytest.mark.parametrize("position,ffn", VARIANTS)
def test_output_shapes(position, ffn):
    outputs = _decoder(position, ffn)(_inputs(_token_ids()))
    assert outputs["sequence_output"].shape == (2, 9, 32)
    assert outputs["logits"].shape == (2, 9, 50)
    assert outputs["logits"].dtype == "float32"


@pytest.mark.parametrize("position,ffn", VARIANTS)
def test_changing_a_future_token_leaves_earlier_logits_alone(position, ffn):
    decoder = _decoder(position, ffn)
    a = _token_ids()
    b = a.copy()
    b[:, 5] = (b[:, 5] + 1) % 50
    la, lb = _logits(decoder, a), _logits(decoder, b)
    np.testing.assert_allclose(la[:, :5], lb[:, :5], atol=1e-6)
    assert not np.allclose(la[:, 5:], lb[:, 5:], atol=1e-4)


@pytest.mark.parametrize("position,ffn", VARIANTS)
def test_cached_decoding_matches_forward_pass(position, ffn):
    decoder = _decoder(position, ffn)
    token_ids = _token_ids()
    cache = decoder.initial_cache(2, 9)
    logits, _, cache = decoder.call_with_cache(token_ids[:, :4], cache, 0)  # prefill
    chunks = [np.asarray(logits)]
    for i in range(4, 9):
        logits, _, cache = decoder.call_with_cache(token_ids[:, i : i + 1], cache, i)
        chunks.append(np.asarray(logits))
    cached = np.concatenate(chunks, axis=1)  # (batch, 9, vocab)
    assert np.abs(cached - _logits(decoder, token_ids)).max() < 1e-4


@pytest.mark.parametrize("position,ffn", VARIANTS)
def test_left_and_right_padding_do_not_change_real_tokens(position, ffn):
    decoder = _decoder(position, ffn)
    alone = _logits(decoder, _token_ids(batch=1, length=6))[0]  # (6, vocab)
    padded = np.zeros((2, 9), "int32") + 3
    padded[0, 3:] = _token_ids(batch=1, length=6)[0]  # left-padded by 3
    padded[1, :6] = _token_ids(batch=1, length=6)[0]  # right-padded by 3
    mask = np.stack([np.arange(9) >= 3, np.arange(9) < 6]).astype("int32")
    logits = _logits(decoder, padded, mask)
    np.testing.assert_allclose(logits[0, 3:], alone, atol=1e-5)
    np.testing.assert_allclose(logits[1, :6], alone, atol=1e-5)


def test_parity_with_keras_hub_gpt2_backbone():
    """Golden test: same weights -> same numbers as keras_hub.models.GPT2Backbone."""
    ours = _decoder()
    reference = keras_hub.models.GPT2Backbone(**CONFIG, dropout=0.0)
    assert [w.shape for w in ours.weights] == [w.shape for w in reference.weights]
    reference.set_weights(ours.get_weights())
    x = _inputs(_token_ids())
    expected = reference(x)  # (batch, seq, hidden)
    got = ours(x)
    np.testing.assert_allclose(np.asarray(got["sequence_output"]), expected, atol=1e-5)
    expected_logits = reference.token_embedding(expected, reverse=True)
    np.testing.assert_allclose(np.asarray(got["logits"]), expected_logits, atol=1e-5)


def test_logits_are_float32_under_mixed_precision():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        decoder = _decoder("rope", "swiglu")
        outputs = decoder(_inputs(_token_ids()))
        logits, _, cache = decoder.call_with_cache(
            _token_ids()[:, :3], decoder.initial_cache(2, 5), 0
        )
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert outputs["sequence_output"].dtype == "bfloat16"
    assert outputs["logits"].dtype == "float32" and logits.dtype == "float32"
    assert cache.dtype == "bfloat16"


@pytest.mark.parametrize("position,ffn", [("learned", "gelu"), ("rope", "swiglu")])
def test_config_and_keras_file_round_trip(tmp_path, position, ffn):
    decoder = _decoder(position, ffn)
    assert GPTDecoder.from_config(decoder.get_config()).get_config() == decoder.get_config()
    path = str(tmp_path / "decoder.keras")
    decoder.save(path)
    restored = keras.saving.load_model(path)
    assert isinstance(restored, GPTDecoder)
    token_ids = _token_ids()
    np.testing.assert_allclose(_logits(restored, token_ids), _logits(decoder, token_ids), atol=1e-6)


def test_unknown_variants_fail():
    with pytest.raises(ValueError, match="position"):
        _decoder(position="alibi")
    with pytest.raises(ValueError, match="ffn"):
        _decoder(ffn="relu")

import keras
import keras_hub
import numpy as np

from bertgpt_tf.models.bert_encoder import BertEncoder

CONFIG = dict(
    vocabulary_size=97, num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32,
    max_sequence_length=24, num_segments=2, dropout=0.0,
)  # fmt: skip


def _inputs(batch=3, length=11, seed=0):
    rng = np.random.default_rng(seed)
    padding_mask = np.ones((batch, length), "int32")
    padding_mask[0, 7:] = 0  # one padded row
    return {
        "token_ids": rng.integers(0, CONFIG["vocabulary_size"], (batch, length)).astype("int32"),
        "segment_ids": (np.arange(length) > 4).astype("int32")[None].repeat(batch, 0),
        "padding_mask": padding_mask,
    }


def test_output_shapes_and_names():
    outputs = BertEncoder(**CONFIG)(_inputs())
    assert outputs["sequence_output"].shape == (3, 11, 16)
    assert outputs["pooled_output"].shape == (3, 16)


def test_parity_with_keras_hub_bert_backbone():
    """Golden test: same weights -> same numbers as keras_hub.models.BertBackbone."""
    ours = BertEncoder(**CONFIG)
    reference = keras_hub.models.BertBackbone(**CONFIG)
    assert [w.shape for w in ours.weights] == [w.shape for w in reference.weights]
    reference.set_weights(ours.get_weights())
    x = _inputs()
    a, b = ours(x), reference(x)
    for key in ("sequence_output", "pooled_output"):
        np.testing.assert_allclose(np.asarray(a[key]), np.asarray(b[key]), atol=1e-5)


def test_padding_does_not_leak():
    encoder = BertEncoder(**CONFIG)
    x = _inputs()
    y = {k: v.copy() for k, v in x.items()}
    y["token_ids"][0, 7:] = 1  # change only padded tokens
    a, b = encoder(x)["sequence_output"], encoder(y)["sequence_output"]
    np.testing.assert_allclose(np.asarray(a)[0, :7], np.asarray(b)[0, :7], atol=1e-6)


def test_config_and_keras_file_round_trip(tmp_path):
    encoder = BertEncoder(**CONFIG)
    assert BertEncoder.from_config(encoder.get_config()).get_config() == encoder.get_config()
    path = str(tmp_path / "encoder.keras")
    encoder.save(path)
    restored = keras.saving.load_model(path)
    x = _inputs()
    np.testing.assert_allclose(
        np.asarray(encoder(x)["pooled_output"]), np.asarray(restored(x)["pooled_output"]), atol=1e-6
    )


def test_pre_ln_encoder_round_trips_and_differs_from_post_ln(tmp_path):
    post = BertEncoder(**CONFIG)
    pre = BertEncoder(**CONFIG, normalize_first=True)
    # One more LayerNorm (final), same shapes otherwise.
    assert len(pre.weights) == len(post.weights) + 2
    assert pre.get_config()["normalize_first"] is True
    path = str(tmp_path / "pre.keras")
    pre.save(path)
    restored = keras.saving.load_model(path)
    assert restored.final_layer_norm is not None
    x = _inputs()
    np.testing.assert_allclose(
        np.asarray(pre(x)["sequence_output"]), np.asarray(restored(x)["sequence_output"]), atol=1e-6
    )
    # Same (large, random) weights: at the 0.02 init both orders are near-identical.
    rng = np.random.default_rng(1)
    shared = [w for w in pre.weights if "final_layer_norm" not in w.path]
    values = [rng.normal(0, 0.5, w.shape).astype("float32") for w in shared]
    for w, value in zip(shared, values, strict=True):
        w.assign(value)
    post.set_weights(values)
    gap = np.abs(np.asarray(pre(x)["pooled_output"]) - np.asarray(post(x)["pooled_output"]))
    assert gap.max() > 1e-3  # the blocks really normalise first


def test_albert_factorized_embedding_and_shared_block(tmp_path):
    """ALBERT = the same encoder with `embedding_dim` < `hidden_dim` and one shared block."""
    sizes = dict(CONFIG, num_layers=3)
    bert = BertEncoder(**sizes)
    albert = BertEncoder(**sizes, embedding_dim=8, share_layers=True)
    vocab, hidden, positions = sizes["vocabulary_size"], 16, sizes["max_sequence_length"]
    block = sum(int(np.prod(w.shape)) for w in bert.transformer_layers[0].weights)
    # Embeddings: (V + P + segments) x E + LayerNorm(E) + projection E x H + bias.
    albert_embeddings = (vocab + positions + 2) * 8 + 2 * 8 + 8 * hidden + hidden
    bert_embeddings = (vocab + positions + 2) * hidden + 2 * hidden
    assert len(albert.transformer_layers) == 1
    assert albert.count_params() == bert.count_params() - 2 * block - bert_embeddings + (
        albert_embeddings
    )
    # The one block runs num_layers times.
    x = _inputs()
    h = albert.embed(x["token_ids"], x["segment_ids"], x["padding_mask"])
    for _ in range(3):
        h = albert.transformer_layers[0](h, padding_mask=x["padding_mask"])
    np.testing.assert_allclose(np.asarray(albert(x)["sequence_output"]), np.asarray(h), atol=1e-5)
    path = str(tmp_path / "albert.keras")
    albert.save(path)
    restored = keras.saving.load_model(path)
    assert (restored.embedding_dim, restored.share_layers) == (8, True)
    np.testing.assert_allclose(
        np.asarray(albert(x)["pooled_output"]), np.asarray(restored(x)["pooled_output"]), atol=1e-6
    )


def test_embedding_convolution_sees_only_neighbours_and_never_padding(tmp_path):
    encoder = BertEncoder(**CONFIG, conv_width=3)
    x = _inputs()
    y = {k: v.copy() for k, v in x.items()}
    y["token_ids"][1, 5] = (y["token_ids"][1, 5] + 1) % CONFIG["vocabulary_size"]
    a = np.asarray(encoder.embed(x["token_ids"], x["segment_ids"], x["padding_mask"]))
    b = np.asarray(encoder.embed(y["token_ids"], y["segment_ids"], y["padding_mask"]))
    changed = np.nonzero(np.abs(a - b).max(-1) > 1e-6)
    assert sorted(zip(*changed, strict=True)) == [(1, 4), (1, 5), (1, 6)]
    # Padded slots are zeroed before the convolution: row 0's real tokens ignore them.
    y = {k: v.copy() for k, v in x.items()}
    y["token_ids"][0, 7:] = 1
    np.testing.assert_allclose(
        np.asarray(encoder(x)["sequence_output"])[0, :7],
        np.asarray(encoder(y)["sequence_output"])[0, :7],
        atol=1e-6,
    )
    path = str(tmp_path / "conv.keras")
    encoder.save(path)
    restored = keras.saving.load_model(path)
    assert restored.conv_width == 3
    np.testing.assert_allclose(
        np.asarray(encoder(x)["pooled_output"]), np.asarray(restored(x)["pooled_output"]), atol=1e-6
    )

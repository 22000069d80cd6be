"""ElectraPretrainer: shared embedding, corruption, learning, save/load round trip."""

import keras
import numpy as np

from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.tasks.electra_pretrainer import ElectraPretrainer, scatter_predictions

SIZES = dict(vocabulary_size=41, num_layers=2, num_heads=4, hidden_dim=32, intermediate_dim=64)


def _batch(seed=0, batch=8, length=12, predictions=3):
    """Cyclic rows (each token decides its neighbours), a few positions masked."""
    rng = np.random.default_rng(seed)
    ids = (5 + (rng.integers(0, 36, (batch, 1)) + np.arange(length)) % 36).astype("int32")
    ids[:, 0] = 2  # [CLS]
    positions = np.stack([np.sort(rng.choice(np.arange(1, length), predictions, False))
                          for _ in range(batch)]).astype("int32")  # fmt: skip
    positions[0, -1] = 0  # one padded prediction slot
    labels = np.take_along_axis(ids, positions, 1)
    weights = (positions > 0).astype("float32")
    masked = ids.copy()
    np.put_along_axis(masked, positions[:, :2], 4, 1)  # [MASK] (slot 3 of row 0 is padding)
    masked[1:, :][np.arange(batch - 1)[:, None], positions[1:, 2:]] = 4
    x = {"token_ids": masked, "segment_ids": np.zeros_like(ids),
         "padding_mask": np.ones_like(ids), "mask_positions": positions}  # fmt: skip
    return x, {"mlm": labels}, {"mlm": weights}


def test_scatter_predictions_writes_only_real_slots():
    token_ids = np.array([[2, 10, 11, 12], [2, 20, 21, 22]], "int32")
    positions = np.array([[1, 3], [2, 0]], "int32")
    values = np.array([[7, 8], [9, 6]], "int32")
    out = np.asarray(scatter_predictions(token_ids, positions, values))
    np.testing.assert_array_equal(out, [[2, 7, 11, 8], [2, 20, 9, 22]])


def test_generator_shares_the_discriminator_token_embedding():
    model = ElectraPretrainer(BertEncoder(**SIZES), generator_fraction=0.25)
    gen = model.generator.backbone
    assert gen.token_embedding is model.backbone.token_embedding
    assert (gen.hidden_dim, gen.num_heads, gen.intermediate_dim) == (8, 1, 16)
    assert gen.embeddings_projection is not None  # 32-wide embedding -> 8-wide generator
    names = [w.path for w in model.weights]
    assert sum("token_embedding/embeddings" in n for n in names) == 1


def test_electra_learns_and_reports_both_losses():
    keras.utils.set_random_seed(0)
    model = ElectraPretrainer(BertEncoder(**SIZES, dropout=0.0), generator_fraction=0.5)
    model.compile(keras.optimizers.Adam(3e-3))
    x, y, w = _batch()
    first = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    history = model.fit(x, y, sample_weight=w, epochs=150, batch_size=8, verbose=0)
    last = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    assert set(history.history) >= {"loss", "mlm_loss", "rtd_loss", "mlm_accuracy",
                                    "replaced_accuracy", "original_accuracy"}  # fmt: skip
    assert last["mlm_loss"] < 0.5 * first["mlm_loss"]
    assert last["rtd_loss"] < first["rtd_loss"]
    # The generator learned the cycle: most samples equal the original, few replaced.
    assert last["mlm_accuracy"] > 0.9
    assert last["original_accuracy"] > 0.9


def test_round_trip_keeps_weights_and_sharing(tmp_path):
    model = ElectraPretrainer(BertEncoder(**SIZES), generator_fraction=0.5, seed=3)
    x, _, _ = _batch()
    before = model(x)
    path = str(tmp_path / "electra.keras")
    model.save(path)
    restored = keras.saving.load_model(path, compile=False)
    assert restored.generator.backbone.token_embedding is restored.backbone.token_embedding
    assert (restored.generator_fraction, restored.seed) == (0.5, 3)
    np.testing.assert_allclose(np.asarray(restored(x)["mlm"]), np.asarray(before["mlm"]), atol=1e-5)
    # The discriminator head round-trips too: same logits on the same corrupted input.
    head_in = model.backbone(
        {"token_ids": np.asarray(before["corrupted_ids"]), "segment_ids": x["segment_ids"],
         "padding_mask": x["padding_mask"]})["sequence_output"]  # fmt: skip
    np.testing.assert_allclose(
        np.asarray(restored.discriminator_head(head_in)),
        np.asarray(model.discriminator_head(head_in)),
        atol=1e-5,
    )
    encoded = {k: x[k] for k in ("token_ids", "segment_ids", "padding_mask")}
    np.testing.assert_allclose(
        np.asarray(restored.backbone(encoded)["sequence_output"]),
        np.asarray(model.backbone(encoded)["sequence_output"]),
        atol=1e-5,
    )

"""DistillPretrainer: student initialisation, frozen teacher, learning, round trip."""

import keras
import numpy as np
import pytest

from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer
from bertgpt_tf.tasks.distill_pretrainer import DistillPretrainer

SIZES = dict(vocabulary_size=41, num_layers=4, num_heads=2, hidden_dim=16, intermediate_dim=32)


def _batch(seed=0, batch=8, length=10):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, 41, (batch, length)).astype("int32")
    positions = np.tile(np.array([[2, 5, 7]], "int32"), (batch, 1))
    labels = np.take_along_axis(ids, positions, 1)
    masked = ids.copy()
    np.put_along_axis(masked, positions, 4, 1)
    x = {"token_ids": masked, "segment_ids": np.zeros_like(ids),
         "padding_mask": np.ones_like(ids), "mask_positions": positions}  # fmt: skip
    return x, {"mlm": labels}, {"mlm": np.ones(positions.shape, "float32")}


def _teacher():
    keras.utils.set_random_seed(1)
    return BertPretrainer(BertEncoder(**SIZES, dropout=0.0), "nsp")


def test_student_starts_from_every_other_teacher_block():
    teacher = _teacher()
    model = DistillPretrainer(teacher, student_layers=2)
    student, t = model.backbone, teacher.backbone
    assert student.num_layers == 2 and model.student.pair_head is None
    for i, source in ((0, 0), (1, 2)):
        for a, b in zip(
            student.transformer_layers[i].weights, t.transformer_layers[source].weights, strict=True
        ):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(
        np.asarray(student.token_embedding.embeddings), np.asarray(t.token_embedding.embeddings)
    )
    with pytest.raises(ValueError, match="teacher has 4 layers"):
        DistillPretrainer(teacher, student_layers=5)


def test_distillation_lowers_the_losses_and_leaves_the_teacher_alone():
    teacher = BertPretrainer(BertEncoder(**SIZES, dropout=0.0), "none")
    x, y, w = _batch()
    teacher.compile(keras.optimizers.Adam(3e-3))
    teacher.fit(x, y, sample_weight=w, epochs=80, batch_size=8, verbose=0)  # confident
    frozen = [np.asarray(w).copy() for w in teacher.weights]
    model = DistillPretrainer(teacher, student_layers=1, temperature=2.0)
    model.compile(keras.optimizers.Adam(3e-3))
    first = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    history = model.fit(x, y, sample_weight=w, epochs=60, batch_size=8, verbose=0)
    last = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    assert set(history.history) >= {"loss", "soft_loss", "mlm_loss", "cosine_loss",
                                    "teacher_agreement"}  # fmt: skip
    assert last["soft_loss"] < 0.5 * first["soft_loss"]
    assert last["cosine_loss"] < first["cosine_loss"]
    assert last["teacher_agreement"] > first["teacher_agreement"]
    for before, after in zip(frozen, teacher.weights, strict=True):
        np.testing.assert_array_equal(before, np.asarray(after))


def test_round_trip(tmp_path):
    model = DistillPretrainer(_teacher(), student_layers=2, temperature=3.0)
    x, _, _ = _batch()
    path = str(tmp_path / "distill.keras")
    model.save(path)
    restored = keras.saving.load_model(path, compile=False)
    assert (restored.student_layers, restored.temperature) == (2, 3.0)
    for key in ("mlm", "teacher_mlm", "hidden"):
        np.testing.assert_allclose(
            np.asarray(restored(x)[key]), np.asarray(model(x)[key]), atol=1e-5
        )


def test_narrower_student_takes_the_leading_slice_and_learns():
    teacher = _teacher()
    with pytest.raises(ValueError, match="multiple of the teacher's head size 8"):
        DistillPretrainer(teacher, student_layers=2, student_hidden_dim=12)
    model = DistillPretrainer(teacher, student_layers=2, student_hidden_dim=8, soft_weight=0.0)
    student, t = model.backbone, teacher.backbone
    assert (student.hidden_dim, student.num_heads, student.intermediate_dim) == (8, 1, 16)
    np.testing.assert_array_equal(
        np.asarray(student.token_embedding.embeddings),
        np.asarray(t.token_embedding.embeddings)[:, :8],
    )
    query = student.transformer_layers[1]._self_attention_layer.query_dense.kernel
    np.testing.assert_array_equal(
        np.asarray(query),
        np.asarray(t.transformer_layers[2]._self_attention_layer.query_dense.kernel)[:8, :1],
    )
    x, y, w = _batch()
    out = model(x)
    assert out["hidden"].shape == (8, 10, 16)  # projected up to the teacher's width
    model.compile(keras.optimizers.Adam(3e-3))
    first = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    model.fit(x, y, sample_weight=w, epochs=30, batch_size=8, verbose=0)
    last = model.evaluate(x, y, sample_weight=w, verbose=0, return_dict=True)
    assert last["cosine_loss"] < first["cosine_loss"] and last["soft_loss"] >= 0

"""Model flags change the model built from the config: dropout, num_segments,
layer_norm_epsilon, discriminator_weight, student_layers, distill_temperature, position,
ffn. Every model is built THROUGH the config (`Config.model_kwargs`, `build_model`,
`resolve_teacher`), so the wiring is tested, not only the constructors."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from bertgpt_tf.config import Config
from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.models.gpt_decoder import GPTDecoder
from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer
from bertgpt_tf.tasks.build_model import build_model, resolve_teacher

VOCAB = 41
SMALL = dict(
    num_layers=2, num_heads=2, hidden_dim=16, intermediate_dim=32, vocabulary_size=VOCAB,
    max_sequence_length=32, sequence_length=16,
)  # fmt: skip


def _config(**overrides) -> Config:
    return Config.from_preset("tiny", **{**SMALL, **overrides})


def _encoder_inputs(batch=2, length=10, segment=0) -> dict:
    rng = np.random.default_rng(0)
    ids = rng.integers(5, VOCAB, (batch, length)).astype("int32")
    return {
        "token_ids": ids,
        "segment_ids": np.full((batch, length), segment, "int32"),
        "padding_mask": np.ones((batch, length), "int32"),
    }


def _mlm_batch(batch=4, length=10):
    """Encoder inputs with positions 2, 5, 7 [MASK]ed, their labels and weights."""
    x = _encoder_inputs(batch, length)
    positions = np.tile(np.array([[2, 5, 7]], "int32"), (batch, 1))
    labels = np.take_along_axis(x["token_ids"], positions, 1)
    np.put_along_axis(x["token_ids"], positions, 4, 1)
    x["mask_positions"] = positions
    return x, {"mlm": labels}, {"mlm": np.ones(positions.shape, "float32")}


def _layer_norms(model: keras.Model) -> list:
    return [
        layer
        for layer in model._flatten_layers(include_self=False, recursive=True)
        if isinstance(layer, keras.layers.LayerNormalization)
    ]


# --- dropout ---


@pytest.mark.parametrize(
    "task, model_class", [("mlm", BertEncoder), ("clm", GPTDecoder)], ids=["bert", "gpt"]
)
def test_dropout_makes_training_outputs_random(task, model_class):
    """--dropout=0.5: a training-mode forward pass differs from inference; 0.0: equal."""
    x = _encoder_inputs()
    if model_class is GPTDecoder:
        x.pop("segment_ids")
    outputs = {}
    for rate in (0.5, 0.0):
        config = _config(task=task, dropout=rate)
        keras.utils.set_random_seed(0)
        model = model_class(**config.model_kwargs(model_class))
        assert model.dropout == rate
        trained = np.asarray(model(x, training=True)["sequence_output"])
        inferred = np.asarray(model(x, training=False)["sequence_output"])
        outputs[rate] = np.abs(trained - inferred).max()
    assert outputs[0.5] > 1e-2
    assert outputs[0.0] < 1e-6


# --- num_segments ---


def test_num_segments_sizes_the_segment_table():
    """--num_segments=3: the segment table has 3 rows and segment id 2 is embedded (its
    own row: the output differs from segment 1); the default table has 2 rows."""
    encoder = BertEncoder(**_config(num_segments=3).model_kwargs(BertEncoder))
    assert encoder.segment_embedding.embeddings.shape[0] == 3
    third = np.asarray(encoder(_encoder_inputs(segment=2))["sequence_output"])
    second = np.asarray(encoder(_encoder_inputs(segment=1))["sequence_output"])
    assert np.isfinite(third).all() and np.abs(third - second).max() > 1e-4
    default = BertEncoder(**_config().model_kwargs(BertEncoder))
    assert default.segment_embedding.embeddings.shape[0] == 2


# --- layer_norm_epsilon ---


@pytest.mark.parametrize(
    "task, model_class, family_default",
    [("mlm", BertEncoder, 1e-12), ("clm", GPTDecoder, 1e-5)],
    ids=["bert", "gpt"],
)
def test_layer_norm_epsilon_reaches_every_layer_norm(task, model_class, family_default):
    """--layer_norm_epsilon=1e-3: every layer norm of the backbone uses it; 0 (the
    default): the family's own (BERT 1e-12, GPT 1e-5)."""
    for value, expected in ((1e-3, 1e-3), (0.0, family_default)):
        model = model_class(
            **_config(task=task, layer_norm_epsilon=value).model_kwargs(model_class)
        )
        epsilons = [norm.epsilon for norm in _layer_norms(model)]
        assert len(epsilons) >= 1 + 2 * SMALL["num_layers"]  # final/embeddings + 2 per block
        assert epsilons == pytest.approx([expected] * len(epsilons), rel=1e-6), (value, epsilons)


def test_layer_norm_epsilon_reaches_the_mlm_head():
    """--layer_norm_epsilon also sets the MLM head's layer norm (build_model, task mlm)."""
    model = build_model(_config(task="mlm", layer_norm_epsilon=1e-3))
    epsilons = [norm.epsilon for norm in _layer_norms(model.mlm_head)]
    assert epsilons == pytest.approx([1e-3]), epsilons


# --- discriminator_weight ---


def test_discriminator_weight_scales_the_replaced_token_loss():
    """--discriminator_weight=w (task electra): total loss = MLM loss + w * RTD loss,
    so two weights on the same predictions differ by (w2 - w1) * RTD loss."""
    x, y, w = _mlm_batch()
    losses, rtd = {}, {}
    predictions = None
    for weight in (1.0, 10.0):
        keras.utils.set_random_seed(0)
        model = build_model(_config(task="electra", discriminator_weight=weight))
        assert model.discriminator_weight == weight
        predictions = predictions or model(x)
        losses[weight] = float(model.compute_loss(x, y, predictions, w))
        rtd[weight] = float(model.trackers["rtd_loss"].result())
    assert rtd[1.0] == pytest.approx(rtd[10.0]) and rtd[1.0] > 0
    assert losses[10.0] - losses[1.0] == pytest.approx(9.0 * rtd[1.0], rel=1e-4)


# --- student_layers, distill_temperature ---


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory) -> str:
    """A finished 4-layer mlm run: config.json and model.keras."""
    run = tmp_path_factory.mktemp("teacher")
    config = _config(task="mlm", num_layers=4, model_dir=str(run), pair_objective="none")
    keras.utils.set_random_seed(1)
    model = BertPretrainer(BertEncoder(**config.model_kwargs(BertEncoder)), "none")
    model.save(str(run / "model.keras"))
    config.to_json(str(run / "config.json"))
    return str(run)


@pytest.mark.parametrize("student_layers, depth", [(3, 3), (0, 2)], ids=["3", "default-half"])
def test_student_layers_sets_the_student_depth(teacher_run, student_layers, depth):
    """--student_layers=3 of a 4-layer teacher: the resolved config and the built
    student have 3 blocks; 0 (default): half the teacher's, 2."""
    config = resolve_teacher(
        _config(task="distill", teacher=teacher_run, student_layers=student_layers, num_layers=9)
    )
    assert (config.model.num_layers, config.model.student_layers) == (depth, depth)
    model = build_model(config)
    assert model.backbone.num_layers == depth
    assert len(model.backbone.transformer_layers) == depth
    assert model.teacher.backbone.num_layers == 4


def test_distill_temperature_changes_the_soft_loss(teacher_run):
    """--distill_temperature reaches DistillPretrainer (build_model) and the soft loss
    of the same predictions differs between T=1 and T=4."""
    x, y, w = _mlm_batch()
    soft, predictions = {}, None
    for temperature in (1.0, 4.0):
        config = _config(task="distill", teacher=teacher_run, distill_temperature=temperature)
        model = build_model(config)
        assert model.temperature == temperature
        if predictions is None:  # a student that disagrees with its teacher
            predictions = dict(model(x))
            predictions["mlm"] = tf.random.stateless_normal(
                predictions["mlm"].shape, seed=(1, 2), stddev=3.0
            )
        model.compute_loss(x, y, predictions, w)
        soft[temperature] = float(model.trackers["soft_loss"].result())
    assert soft[1.0] > 0 and soft[4.0] > 0
    assert abs(soft[4.0] - soft[1.0]) > 0.05 * soft[1.0], soft


def test_distill_temperature_survives_resolve_teacher(teacher_run):
    """--distill_temperature=4 still holds after `resolve_teacher` (what run_pretraining
    calls before build_model): the teacher's sizes must not replace it."""
    config = resolve_teacher(_config(task="distill", teacher=teacher_run, distill_temperature=4.0))
    assert config.model.distill_temperature == 4.0


# --- position, ffn (GPT) ---


def test_position_rope_drops_the_learned_position_table():
    """--position=rope (task clm): no position embedding weights (they cost
    max_sequence_length * hidden_dim parameters); learned: the table is there."""
    models = {p: build_model(_config(task="clm", position=p)) for p in ("learned", "rope")}
    learned, rope = models["learned"].backbone, models["rope"].backbone
    assert learned.position_embedding is not None and rope.position_embedding is None
    assert not [w for w in rope.weights if "position_embedding" in w.path]
    table = SMALL["max_sequence_length"] * SMALL["hidden_dim"]
    assert learned.count_params() - rope.count_params() == table
    assert rope.position == "rope"


def test_ffn_swiglu_adds_a_gate_to_every_block():
    """--ffn=swiglu (task clm): each block has one more intermediate_dim x hidden_dim
    projection than gelu (gate, up, down vs. up, down)."""
    blocks = {
        ffn: build_model(_config(task="clm", ffn=ffn)).backbone.transformer_layers
        for ffn in ("gelu", "swiglu")
    }
    assert len(blocks["swiglu"]) == len(blocks["gelu"]) == SMALL["num_layers"]
    gelu, swiglu = blocks["gelu"][0], blocks["swiglu"][0]
    assert len(swiglu.weights) > len(gelu.weights)
    extra = swiglu.count_params() - gelu.count_params()
    hidden, intermediate = SMALL["hidden_dim"], SMALL["intermediate_dim"]
    # at least the gate's kernel; biases are a layer's own choice
    assert hidden * intermediate <= extra <= hidden * intermediate + intermediate + hidden

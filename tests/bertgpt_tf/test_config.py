import pytest

from bertgpt_tf import config as config_module
from bertgpt_tf.config import PRESETS, Config


def test_presets_set_sizes_and_overrides_win():
    config = Config.from_preset("small", num_layers=2, steps=7)
    assert config.model.hidden_dim == PRESETS["small"]["hidden_dim"] == 512
    assert config.model.num_layers == 2
    assert config.train.steps == 7
    assert config.train.preset == "small"


def test_unknown_key_and_bad_values_fail():
    with pytest.raises(ValueError, match="Unknown config keys"):
        Config.from_preset("tiny", num_layer=3)
    with pytest.raises(ValueError, match="Unknown preset"):
        Config.from_preset("huge")
    with pytest.raises(ValueError, match="divisible"):
        Config.from_preset("tiny", num_heads=3)
    with pytest.raises(ValueError, match="pair_objective"):
        Config.from_preset("tiny", pair_objective="xyz")
    with pytest.raises(ValueError, match="embed_loss must be cosine|cosent"):
        Config.from_preset("tiny", task="embed", embed_loss="mse")


def test_json_round_trip(tmp_path):
    config = Config.from_preset("tiny", pair_objective="sop", learning_rate=3e-4)
    path = str(tmp_path / "config.json")
    config.to_json(path)
    assert Config.from_json(path) == config


def test_translate_task_defaults_fields_and_round_trip(tmp_path):
    config = Config.from_preset(
        "mini", task="translate", shared_vocabulary=False, beam_size=5, length_penalty=1.0
    )
    assert config.tokenizer_kind == "bpe"
    assert (config.data.sequence_length, config.data.vocabulary_size_target) == (48, 8000)
    assert config.model.normalize_first and config.train.batch_size == 64
    assert (
        Config.from_preset("mini", task="translate", sequence_length=32).data.sequence_length == 32
    )
    assert Config.from_preset("mini", task="mlm").data.sequence_length == 128  # others unchanged
    path = str(tmp_path / "config.json")
    config.to_json(path)
    assert Config.from_json(path) == config
    with pytest.raises(ValueError, match="beam_size"):
        config.replace(beam_size=0)
    with pytest.raises(ValueError, match="label_smoothing"):
        config.replace(label_smoothing=1.0)


@pytest.mark.parametrize("native", [True, False])
def test_the_budget_recipe_trains_in_bf16_only_where_the_hardware_has_it(monkeypatch, native):
    monkeypatch.setattr(config_module, "native_bf16", lambda: native)
    assert Config.from_preset("mini", task="mlm").train.mixed_precision is native
    # the flag decides when given; other recipes and tasks keep fp32
    asked = Config.from_preset("mini", task="mlm", mixed_precision=not native)
    assert asked.train.mixed_precision is (not native)
    assert not Config.from_preset("mini", task="mlm", recipe="bert").train.mixed_precision
    assert not Config.from_preset("mini", task="classify").train.mixed_precision


def test_mlm_runs_the_budget_recipe_and_bert_is_one_flag_away():
    budget = Config.from_preset("mini", task="mlm")
    assert budget.train.recipe == "budget"
    assert (budget.model.conv_width, budget.model.normalize_first) == (3, True)
    assert not budget.model.tie_word_embeddings and budget.model.dropout == 0.0
    assert budget.data.pair_objective == "none"
    assert budget.train.max_minutes == 60.0 and budget.train.learning_rate == 1e-3
    bert = Config.from_preset("mini", task="mlm", recipe="bert")
    assert bert.model == Config().model and bert.data == Config().data  # BERT's defaults
    assert bert.train.max_minutes == 0.0 and not bert.train.mixed_precision
    # flags over the recipe; the variants and the other tasks keep their own defaults
    assert Config.from_preset("mini", task="mlm", conv_width=0).model.conv_width == 0
    albert = Config.from_preset("mini", task="mlm", model="albert")
    assert albert.data.pair_objective == "sop" and albert.model.conv_width == 0
    assert albert.train.recipe == "" and not albert.train.mixed_precision
    assert Config.from_preset("mini", task="classify").model == Config().model
    continued = Config.from_preset("mini", task="mlm", init_from="runs/minilm")
    assert continued.train.recipe == "" and continued.train.learning_rate == 5e-4
    assert Config.from_preset("mini", task="electra").model.conv_width == 0
    with pytest.raises(ValueError, match="Unknown recipe"):
        Config.from_preset("mini", recipe="cram")
    with pytest.raises(ValueError, match="--recipe is for --task=mlm --model=bert"):
        Config.from_preset("mini", task="classify", recipe="bert")

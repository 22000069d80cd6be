import pytest

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


def test_json_round_trip(tmp_path):
    config = Config.from_preset("tiny", pair_objective="sop", learning_rate=3e-4)
    path = str(tmp_path / "config.json")
    config.to_json(path)
    assert Config.from_json(path) == config

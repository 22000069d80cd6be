import json
import os

import pytest

from bertgpt_tf.atomic_file import atomic_path, write_json, write_text


def test_write_replaces_whole_file(tmp_path):
    path = str(tmp_path / "config.json")
    write_json(path, {"steps": 3})
    write_json(path, {"steps": 4}, indent=2)
    assert json.loads(open(path).read()) == {"steps": 4}
    assert os.listdir(tmp_path) == ["config.json"]  # no staging file left


def test_failed_write_keeps_previous_file(tmp_path):
    path = str(tmp_path / "vocab.txt")
    write_text(path, "[PAD]\n[UNK]\n")
    with pytest.raises(OSError, match="disk full"):
        with atomic_path(path) as staging:
            with open(staging, "w") as f:
                f.write("[PA")  # half written, then the disk fills up
            raise OSError("disk full")
    assert open(path).read() == "[PAD]\n[UNK]\n"
    assert os.listdir(tmp_path) == ["vocab.txt"]


def test_staging_keeps_suffix_and_folder(tmp_path):
    path = str(tmp_path / "model.weights.h5")
    with atomic_path(path) as staging:
        assert staging.endswith("model.weights.h5")  # keras checks the suffix
        assert os.path.dirname(staging) == str(tmp_path)  # same filesystem: rename
        assert not os.path.exists(path)
        write_text(staging, b"\x89HDF")
    assert open(path, "rb").read() == b"\x89HDF"

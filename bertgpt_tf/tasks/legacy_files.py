"""Task-model files saved before issue 16 gave every task model's backbone one name,
`backbone`. Two things differ in them:

- the config named the backbone `encoder` (BERT tasks), `decoder` (`GPTCausalLM`) or
  `seq2seq` (`Translator`): every `from_config` reads those keys too
  (`backbone_from_config`);
- Keras files hold a subclassed model's sub-models under its attribute names (a
  functional model's under their classes' names, which did not change), so
  `ElectraPretrainer` and `DistillPretrainer` saved their backbone's weights under
  `encoder/`. `upgraded_weights` / `upgraded_model_file` give such a file with that
  group read as `backbone/` (a copy; the file itself is untouched); their `load_weights`
  and `load_task_model` use them.
"""

import contextlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterator

import h5py
import keras

LEGACY_BACKBONE_KEYS = ("encoder", "decoder", "seq2seq")  # config keys before issue 16
LEGACY_BACKBONE_GROUP = "encoder"  # the weights group of a subclassed model's backbone
WEIGHTS = "model.weights.h5"  # inside a .keras file


def backbone_from_config(config: dict) -> dict:
    """`config` (a task model's `get_config()`, of this or an older version) with its
    backbone under `backbone`, deserialized."""
    config = dict(config)
    for key in LEGACY_BACKBONE_KEYS:
        if key in config:
            config["backbone"] = config.pop(key)
    config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
    return config


def _is_legacy(weights: h5py.File) -> bool:
    return LEGACY_BACKBONE_GROUP in weights and "backbone" not in weights


def _write_upgraded(weights: h5py.File, target: str) -> None:
    """`weights` with its root `encoder` group as `backbone`, written to `target`."""
    with h5py.File(target, "w") as upgraded:
        upgraded.attrs.update(weights.attrs)
        for name in weights:
            new_name = "backbone" if name == LEGACY_BACKBONE_GROUP else name
            weights.copy(weights[name], upgraded, name=new_name)


def _h5_is_legacy(source) -> bool:
    with h5py.File(source, "r") as weights:
        return _is_legacy(weights)


@contextlib.contextmanager
def upgraded_weights(path: str) -> Iterator[str]:
    """`path`, or for a `.weights.h5` file saved before issue 16 an upgraded copy
    (deleted on exit)."""
    if not (str(path).endswith(".h5") and os.path.exists(path) and _h5_is_legacy(path)):
        yield path
        return
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, os.path.basename(path))
        with h5py.File(path, "r") as weights:
            _write_upgraded(weights, target)
        yield target


@contextlib.contextmanager
def upgraded_model_file(path: str) -> Iterator[str]:
    """`path`, or for a `.keras` file saved before issue 16 an upgraded copy (deleted on
    exit): the same archive with its weights upgraded (the config is read as it is)."""
    if not (str(path).endswith(".keras") and os.path.exists(path)):
        yield path
        return
    with zipfile.ZipFile(path) as archive:
        if WEIGHTS not in archive.namelist():
            legacy = False
        else:
            with archive.open(WEIGHTS) as member:
                legacy = _h5_is_legacy(member)
    if not legacy:
        yield path
        return
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(path) as archive:
        weights_path = os.path.join(tmp, WEIGHTS)
        with archive.open(WEIGHTS) as member, h5py.File(member, "r") as weights:
            _write_upgraded(weights, weights_path)
        target = os.path.join(tmp, os.path.basename(path))
        with zipfile.ZipFile(target, "w") as upgraded:
            for info in archive.infolist():
                if info.filename == WEIGHTS:
                    upgraded.write(weights_path, WEIGHTS)
                else:
                    with archive.open(info) as source, upgraded.open(info, "w") as copy:
                        shutil.copyfileobj(source, copy)
        yield target

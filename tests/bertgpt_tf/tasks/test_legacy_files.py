"""Task-model files saved before issue 16 named every backbone `backbone` still load,
with every weight where it was: one tiny model.keras per task model class, written by
`saved_before_issue16/make_files.py` at 8ed928c (the code before the rename)."""

import io
import json
import os
import zipfile

import h5py
import keras
import numpy as np
import pytest

from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.models.gpt_decoder import GPTDecoder
from bertgpt_tf.models.seq2seq_transformer import Seq2SeqTransformer
from bertgpt_tf.tasks.electra_pretrainer import ElectraPretrainer
from bertgpt_tf.tasks.load_task_model import load_task_model

SAVED = os.path.join(os.path.dirname(__file__), "saved_before_issue16")
# file -> (class, the backbone's class, the key the old config gave the backbone; the
# teacher's for DistillPretrainer, whose own config names no backbone)
FILES = {
    "mlm": ("BertPretrainer", BertEncoder, "encoder"),
    "electra": ("ElectraPretrainer", BertEncoder, "encoder"),
    "distill": ("DistillPretrainer", BertEncoder, "encoder"),
    "clm": ("GPTCausalLM", GPTDecoder, "decoder"),
    "classify": ("TextClassifier", BertEncoder, "encoder"),
    "classify_gpt": ("TextClassifier", GPTDecoder, "encoder"),
    "prompt": ("TextClassifier", BertEncoder, "encoder"),
    "ner": ("TokenClassifier", BertEncoder, "encoder"),
    "embed": ("SentenceEmbedder", BertEncoder, "encoder"),
    "translate": ("Translator", Seq2SeqTransformer, "seq2seq"),
}


def _archive(path: str) -> tuple[dict, dict[str, np.ndarray]]:
    """(the config that names the backbone, every weight of model.weights.h5 by its path
    in the file)."""
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))["config"]
        config = config["teacher"]["config"] if "teacher" in config else config
        weights = {}

        def read(name, item):
            if isinstance(item, h5py.Dataset):
                weights[name] = item[()]

        with h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r") as h5:
            h5.visititems(read)
    return config, weights


@pytest.mark.parametrize("name", FILES)
def test_a_file_saved_before_the_rename_loads_with_every_weight_in_place(name, tmp_path):
    kind, backbone_class, old_key = FILES[name]
    path = os.path.join(SAVED, f"{name}.keras")
    old_config, old_weights = _archive(path)
    assert old_key in old_config and "backbone" not in old_config  # really the old layout

    model = load_task_model(path)
    assert type(model).__name__ == kind and isinstance(model.backbone, backbone_class)
    # Saved again: the new config key, and every weight at its old path, except that a
    # subclassed pretrainer's backbone group is now `backbone/` (was `encoder/`).
    model.save(tmp_path / "again.keras")
    new_config, new_weights = _archive(tmp_path / "again.keras")
    assert "backbone" in new_config and old_key not in new_config
    renamed = {
        ("backbone/" + p[len("encoder/") :] if p.startswith("encoder/") else p): value
        for p, value in old_weights.items()
    }
    assert sorted(new_weights) == sorted(renamed)
    for p, value in renamed.items():
        np.testing.assert_array_equal(new_weights[p], value, err_msg=p)
    assert keras.saving.load_model(tmp_path / "again.keras", compile=False).backbone is not None


def test_electra_keeps_the_shared_embedding_and_reads_an_old_weights_file(tmp_path):
    """A `.weights.h5` of before the rename (a backup of a run resumed across it) loads
    into a new `ElectraPretrainer`: `JointLossModel.load_weights` reads `encoder/`."""
    path = os.path.join(SAVED, "electra.keras")
    model = load_task_model(path)
    assert model.generator.backbone.token_embedding is model.backbone.token_embedding
    with zipfile.ZipFile(path) as archive:
        (tmp_path / "epoch-1.weights.h5").write_bytes(archive.read("model.weights.h5"))
    fresh = ElectraPretrainer.from_config(model.get_config())
    fresh.load_weights(str(tmp_path / "epoch-1.weights.h5"))
    for a, b in zip(model.weights, fresh.weights, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)

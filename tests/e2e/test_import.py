"""`--task=import` and `--init_from=<checkpoint dir>` through `run_train.py` (issue 12):
the real MiniLM becomes a run dir whose exports serve raw text, and fine-tuning starts
from a published checkpoint's weights."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from bertgpt_tf.checkpoints.import_checkpoint import build_pretrainer, read_checkpoint
from bertgpt_tf.config import Config
from bertgpt_tf.export.from_run import load_serving_module
from tests.bertgpt_tf.checkpoints.checkpoint_files import bert_tensors, hf_config, write_hf
from tests.e2e.test_resume import run, train_flags


def test_import_minilm_serves_encode_and_embed(minilm_dir, tmp_path, assert_servable):
    run_dir, exports = tmp_path / "minilm", tmp_path / "exports"
    done = run(0, ["--task=import", f"--init_from={minilm_dir}", f"--model_dir={run_dir}",
                   f"--export_base={exports}"])  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    config = Config.from_json(os.path.join(run_dir, "config.json"))
    assert (config.train.task, config.data.normalization, config.model.num_layers) == (
        "mlm",
        "bert",
        6,
    )
    with open(os.path.join(exports, "minilm", "1", "model_card.json")) as f:
        signatures = json.load(f)["signatures"]
    # No MLM head in the checkpoint: no fill_mask (its head would be untrained).
    assert signatures == ["encode", "encode_pair", "encode_tokens", "serving_default"]
    module = load_serving_module(config)
    assert assert_servable(module, str(exports / "minilm" / "1")) > 0
    embed = tf.saved_model.load(str(exports / "minilm-embed" / "1")).signatures["similarity"]
    score = embed(
        text=tf.constant(["A man is playing a guitar.", "A man is playing a guitar."]),
        text_b=tf.constant(["A man plays the guitar.", "A chef is cooking pasta."]),
    )["score"].numpy()
    assert score[0] > 0.8 and score[1] < 0.3, score  # what all-MiniLM-L6-v2 is trained for


# bert runs by default; the other families (~25-50 s each) with `-m slow`: their
# importers are checked weight for weight in tests/bertgpt_tf/checkpoints by default
@pytest.mark.parametrize(
    "kind",
    ["bert", *(pytest.param(k, marks=pytest.mark.slow) for k in ("roberta", "albert", "gpt2"))],
)
def test_fine_tuning_starts_from_a_checkpoint_directory(kind, tmp_path):
    """`--init_from=<HF dir>` of each family: imported into `<model_dir>/init_from`,
    weights unchanged at learning rate 0, the export named after the checkpoint and
    answering raw text (a GPT-2 classifies with last-token pooling)."""
    from bertgpt_tf.tasks.text_classifier import TextClassifier  # noqa: F401  (registers)
    from tests.bertgpt_tf.checkpoints.checkpoint_files import (
        write_hf_albert,
        write_hf_gpt2,
        write_hf_roberta,
    )
    from tests.conftest import write_sentiment_file

    writers = {"roberta": write_hf_roberta, "albert": write_hf_albert, "gpt2": write_hf_gpt2}
    if kind == "bert":
        hf_dir = write_hf(str(tmp_path / "hf"), bert_tensors(4), hf_config())
    else:
        hf_dir = writers[kind](str(tmp_path / "hf"))
    data = write_sentiment_file(tmp_path / "sentiment.tsv", 120)
    flags = [f"--{k}={v}" for k, v in dict(
        task="classify", init_from=hf_dir, train_data=data, model_dir=tmp_path / "ft",
        epochs=1, batch_size=8, sequence_length=16, learning_rate=0.0,
        export_base=tmp_path / "exports", patience=0, max_unknown_share=1).items()]  # fmt: skip
    done = run(0, flags)
    assert done.returncode == 0, done.stderr[-3000:]
    with open(tmp_path / "ft" / "init_from" / "import.json") as f:
        assert json.load(f)["source"] == os.path.abspath(hf_dir)
    # The export is named after the checkpoint it starts from (its folder), not a preset.
    assert os.listdir(tmp_path / "exports") == ["classify-hf"]
    tuned = keras.saving.load_model(str(tmp_path / "ft" / "model.keras"), compile=False)
    original, report = build_pretrainer(read_checkpoint(hf_dir))
    backbone = original.backbone
    for source in [w for w in backbone.weights if w.path in report["loaded"]]:
        target = next(w for w in tuned.backbone.weights if w.path == source.path)
        np.testing.assert_array_equal(source.numpy(), target.numpy(), err_msg=source.path)
    served = tf.saved_model.load(str(tmp_path / "exports" / "classify-hf" / "1"))
    answer = served.signatures["serving_default"](text=tf.constant(["the cat sat", "good"]))
    assert answer["probabilities"].shape == (2, 2)


def _tiny_checkpoint(tmp_path, tiny_vocabulary, seed: int, mlm_head: bool = True) -> str:
    """An HF BERT directory over the tiny corpus' vocabulary (with or without MLM head)."""
    with open(tiny_vocabulary, encoding="utf-8") as f:
        vocabulary = [line.rstrip("\n") for line in f]
    tensors = bert_tensors(seed, len(vocabulary))
    if not mlm_head:
        tensors = {k: v for k, v in tensors.items() if "predictions" not in k}
    return write_hf(str(tmp_path / "hf"), tensors, hf_config(len(vocabulary)), vocabulary)


def _pretraining_flags(tiny_corpus, tmp_path, run_dir: str, **extra) -> list[str]:
    """`train_flags` on the tiny corpus, without the sizes and vocabulary that the
    starting run (or teacher) decides."""
    flags = train_flags(os.path.dirname(tiny_corpus[0]), "", tmp_path / run_dir,
                        tmp_path / "exports", sequence_length=16, **extra)  # fmt: skip
    sized = ("--vocabulary=", "--num_", "--hidden", "--intermediate")
    return [f for f in flags if not f.startswith(sized)]


def test_continued_pretraining_starts_from_the_checkpoint(tiny_corpus, tiny_vocabulary, tmp_path):
    """`--task=mlm --init_from=<HF dir>`: the checkpoint's sizes, vocabulary and MLM head;
    the held-out loss of the starting weights in results.json, and lower after."""
    hf_dir = _tiny_checkpoint(tmp_path, tiny_vocabulary, 5)
    flags = _pretraining_flags(tiny_corpus, tmp_path, "run", init_from=hf_dir, steps=30,
                               steps_per_epoch=10, validation_steps=4, learning_rate=3e-3,
                               max_sequence_length=32)  # fmt: skip
    done = run(0, flags)
    assert done.returncode == 0, done.stderr[-3000:]
    config = Config.from_json(str(tmp_path / "run" / "config.json"))
    assert (config.model.hidden_dim, config.data.normalization) == (8, "bert")
    assert config.data.pair_objective == "nsp"  # the checkpoint has an NSP head: kept
    with open(tmp_path / "run" / "results.json") as f:
        results = json.load(f)
    before, after = results["before"]["val_mlm_loss"], results["history"]["val_mlm_loss"][-1]
    assert after < before, (before, after)


@pytest.mark.slow  # ~60 s; continued MLM pretraining above and the GPT-2 import run by default
def test_continued_causal_pretraining_starts_from_an_imported_gpt2(tiny_corpus, tmp_path):
    """`--task=clm --init_from=<GPT-2 HF dir>`: its sizes and byte-level BPE, the held-out
    loss of the starting weights in results.json, and lower after; the export named
    after the checkpoint generates."""
    from tests.bertgpt_tf.checkpoints.checkpoint_files import write_hf_gpt2

    hf_dir = write_hf_gpt2(str(tmp_path / "gpt2"))
    flags = _pretraining_flags(tiny_corpus, tmp_path, "run", task="clm", init_from=hf_dir,
                               steps=30, steps_per_epoch=10, validation_steps=4,
                               learning_rate=3e-3, dropout=0)  # fmt: skip
    done = run(0, [f for f in flags if not f.startswith("--max_predictions")])
    assert done.returncode == 0, done.stderr[-3000:]
    config = Config.from_json(str(tmp_path / "run" / "config.json"))
    assert (config.model.hidden_dim, config.data.tokenizer) == (8, "byte_bpe")
    with open(tmp_path / "run" / "results.json") as f:
        results = json.load(f)
    before, after = results["before"]["val_loss"], results["history"]["val_loss"][-1]
    assert after < before, (before, after)
    generate = tf.saved_model.load(str(tmp_path / "exports" / "clm-gpt2" / "1"))
    answer = generate.signatures["generate"](
        prompt=tf.constant(["The cat"]), max_new_tokens=tf.constant(4), seed=tf.constant(0),
        temperature=tf.constant(0.0), top_k=tf.constant(0), top_p=tf.constant(1.0),
    )  # fmt: skip
    assert answer["num_new_tokens"].numpy().tolist() == [4]


@pytest.mark.slow  # ~45 s; tests/bertgpt_tf/tasks/test_distill_pretrainer.py runs by default
def test_distilling_an_imported_teacher_into_a_narrower_student(
    tiny_corpus, tiny_vocabulary, tmp_path
):
    """`--task=distill --teacher=<imported run> --student_hidden_dim`: a shallower,
    narrower student that serves; no soft targets from the teacher's untrained MLM head."""
    hf_dir = _tiny_checkpoint(tmp_path, tiny_vocabulary, 6, mlm_head=False)
    teacher = str(tmp_path / "teacher")
    done = run(0, ["--task=import", f"--init_from={hf_dir}", f"--model_dir={teacher}",
                   f"--export_base={tmp_path / 'exports'}"])  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    flags = _pretraining_flags(tiny_corpus, tmp_path, "student", task="distill", teacher=teacher,
                               student_layers=1, student_hidden_dim=4)  # fmt: skip
    done = run(0, flags)
    assert done.returncode == 0, done.stderr[-3000:]
    config = Config.from_json(str(tmp_path / "student" / "config.json"))
    assert (config.model.num_layers, config.model.hidden_dim, config.model.num_heads) == (1, 4, 1)
    model = keras.saving.load_model(str(tmp_path / "student" / "model.keras"), compile=False)
    assert model.soft_weight == 0.0 and model.backbone.hidden_dim == 4
    with open(tmp_path / "student" / "results.json") as f:
        history = json.load(f)["history"]
    assert history["soft_loss"][-1] >= 0 and history["cosine_loss"][-1] < history["cosine_loss"][0]
    assert os.path.exists(tmp_path / "exports" / "distill-tiny" / "1" / "saved_model.pb")

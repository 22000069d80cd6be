"""Each variant (issue 6) pretrains through `run_train.py`, round-trips its config and
model file, and exports a SavedModel that answers like the in-memory model."""

import json
import os

import keras
import pytest
import tensorflow as tf

from bertgpt_tf.config import Config
from bertgpt_tf.export.from_run import load_serving_module
from tests.conftest import RELEASES
from tests.e2e.test_resume import run, train_flags

VARIANTS = {
    # name: (flags, what config.json must say)
    "roberta": (dict(model="roberta", batch_size=8, num_layers=2),
                dict(pair_objective="none", model="roberta")),
    # RoBERTa's BPE option: a SentencePiece BPE model with [CLS]/[SEP]/[MASK] pieces.
    "roberta-bpe": (dict(model="roberta", batch_size=8, tokenizer="bpe", vocabulary="",
                         vocabulary_size_target=420),
                    dict(pair_objective="none", tokenizer="bpe", vocabulary_size=420)),
    "albert": (dict(model="albert", embedding_dim=16, num_layers=3),
               dict(pair_objective="sop", embedding_dim=16, share_layers=True)),
    "electra": (dict(task="electra", generator_fraction=0.5),
                dict(pair_objective="none", task="electra", generator_fraction=0.5)),
}  # fmt: skip


def _pretrain(tiny_corpus, tiny_vocabulary, root, name, flags):
    run_dir, exports = str(root / name), str(root / "exports")
    corpus_dir = os.path.dirname(tiny_corpus[0])
    flags = dict(flags)
    vocabulary = flags.pop("vocabulary", tiny_vocabulary)  # "": train one for the run
    args = train_flags(corpus_dir, vocabulary, run_dir, exports, export_name=name, **flags)
    done = run(0, args)
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir, os.path.join(exports, name, "1")


@pytest.fixture(scope="module")
def runs(tiny_corpus, tiny_vocabulary, tmp_path_factory):
    """`name -> (run dir, export dir)`, each variant pretrained once, on first use."""
    root = tmp_path_factory.mktemp("variants")
    made = {}

    def get(name):
        if name not in made:
            if name == "distill":  # a 1-layer student of the 2-layer RoBERTa run
                flags = dict(task="distill", teacher=get("roberta")[0])
            else:
                flags = VARIANTS[name][0]
            made[name] = _pretrain(tiny_corpus, tiny_vocabulary, root, name, flags)
        return made[name]

    return get


def _loaded(run_dir):
    config = Config.from_json(os.path.join(run_dir, "config.json"))
    with open(os.path.join(run_dir, "config.json")) as f:
        assert config.to_dict() == json.load(f)  # the file is the whole config
    with open(os.path.join(run_dir, "results.json")) as f:
        results = json.load(f)
    assert results["steps"] == 8 and len(results["history"]["loss"]) == 4
    model = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    return config, model


# albert and roberta-bpe (~50 s each) run with `-m slow`; roberta and electra feed the
# distillation and fine-tuning tests below, so they run by default
SLOW_VARIANTS = {"albert", "roberta-bpe"}


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=[pytest.mark.slow] * (n in SLOW_VARIANTS)) for n in sorted(VARIANTS)],
)
def test_variant_trains_round_trips_and_serves(runs, name, assert_servable):
    run_dir, export = runs(name)
    config, model = _loaded(run_dir)
    flat = {k: v for section in config.to_dict().values() for k, v in section.items()}
    assert {k: flat[k] for k in VARIANTS[name][1]} == VARIANTS[name][1]
    module = load_serving_module(config)
    if name == "albert":
        assert len(model.backbone.transformer_layers) == 1 and model.backbone.num_layers == 3
        assert model.backbone.token_embedding.output_dim == 16 and "sop" in model.output
    if name == "roberta-bpe":
        assert config.data.vocabulary.endswith("spm_bpe.model")
        out = module.fill_mask(tf.constant(["the quick brown [MASK] jumps."]))
        assert out["top_tokens"].shape[1:] == (1, 5)  # one [MASK] found, top-5 pieces
    if name == "electra":
        assert model.generator.backbone.token_embedding is model.backbone.token_embedding
        assert model.generator.backbone.hidden_dim == 16
    assert assert_servable(module, export, releases=_releases(name)) > 0


def _releases(name: str) -> tuple[str, ...]:
    """The TF 2.20 process only for the BPE export: the others use BERT's op set, which
    tests/bertgpt_tf/export/test_mlm_serving.py already runs there (saves ~10 s each)."""
    return RELEASES if name == "roberta-bpe" else tuple(r for r in RELEASES if r != "2.20")


@pytest.mark.slow  # ~60 s; resolve_teacher + build_model of a teacher run: test_flags_model.py
def test_distilled_student_is_half_the_teacher_and_serves(runs, assert_servable):
    run_dir, export = runs("distill")
    config, model = _loaded(run_dir)
    teacher_config, _ = _loaded(runs("roberta")[0])
    assert teacher_config.model.num_layers == 2
    assert config.model.num_layers == config.model.student_layers == 1
    assert model.backbone.num_layers == 1 and model.teacher.backbone.num_layers == 2
    # The teacher's vocabulary, copied into the student's run (it travels with the run).
    with open(config.data.vocabulary) as a, open(teacher_config.data.vocabulary) as b:
        assert a.read() == b.read()
    assert assert_servable(load_serving_module(config), export, releases=_releases("distill")) > 0


@pytest.mark.parametrize("name", ["electra", pytest.param("distill", marks=pytest.mark.slow)])
def test_fine_tuning_loads_the_discriminator_or_the_student(runs, name, tmp_path):
    """`--init_from=<electra|distill run>` fine-tunes the encoder the pretrainer holds."""
    from bertgpt_tf.tasks.text_classifier import TextClassifier  # noqa: F401  (registers)
    from tests.conftest import write_sentiment_file

    run_dir, _ = runs(name)
    pretrained = keras.saving.load_model(os.path.join(run_dir, "model.keras"), compile=False)
    data = write_sentiment_file(tmp_path / "sentiment.tsv", 200)
    flags = [f"--{k}={v}" for k, v in dict(
        task="classify", init_from=run_dir, train_data=data, model_dir=tmp_path / "ft",
        epochs=1, batch_size=8, sequence_length=16, learning_rate=0.0,
        export_base=tmp_path / "exports", patience=0).items()]  # fmt: skip
    done = run(0, flags)
    assert done.returncode == 0, done.stderr[-3000:]
    tuned = keras.saving.load_model(str(tmp_path / "ft" / "model.keras"), compile=False)
    source = pretrained.backbone.token_embedding.embeddings
    target = tuned.backbone.token_embedding.embeddings  # lr 0: the weights it started from
    assert tuple(source.shape) == tuple(target.shape)
    assert float(keras.ops.max(keras.ops.abs(source - target))) == 0.0

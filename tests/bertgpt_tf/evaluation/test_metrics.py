"""Metrics: entity-level scoring agrees with seqeval; correlations with their textbook
definitions."""

import random

import numpy as np
import pytest
from seqeval.metrics import f1_score, precision_score, recall_score

from bertgpt_tf.evaluation.metrics import entity_f1, entity_spans, pearson, spearman
from pipelines.task_files import iob1_to_iob2

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]


def test_spans_follow_conlleval_rules():
    assert entity_spans(["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC"]) == {
        ("PER", 0, 1), ("LOC", 3, 4), ("LOC", 5, 5),
    }  # fmt: skip
    assert entity_spans(["B-PER", "I-LOC"]) == {("PER", 0, 0), ("LOC", 1, 1)}


def test_entity_scores_match_seqeval_on_random_predictions():
    rng = random.Random(0)
    for _ in range(20):
        true = [[rng.choice(TAGS) for _ in range(rng.randint(1, 12))] for _ in range(30)]
        predicted = [
            [t if rng.random() < 0.7 else rng.choice(TAGS) for t in sentence] for sentence in true
        ]
        ours = entity_f1(true, predicted)
        assert ours["precision"] == pytest.approx(precision_score(true, predicted), abs=1e-12)
        assert ours["recall"] == pytest.approx(recall_score(true, predicted), abs=1e-12)
        assert ours["f1"] == pytest.approx(f1_score(true, predicted), abs=1e-12)


def test_iob1_becomes_iob2():
    iob1 = ["I-ORG", "O", "I-MISC", "I-MISC", "B-MISC", "I-PER", "I-LOC"]
    assert iob1_to_iob2(iob1) == ["B-ORG", "O", "B-MISC", "I-MISC", "B-MISC", "B-PER", "B-LOC"]


def test_correlations():
    x = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    assert pearson(x, 2 * x + 1) == pytest.approx(1.0)
    assert spearman(x, x**3) == pytest.approx(1.0)  # monotone, not linear
    assert spearman(
        np.array([1.0, 2.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0, 4.0])
    ) == pytest.approx(0.9486832980505138)  # scipy.stats.spearmanr with averaged tie ranks

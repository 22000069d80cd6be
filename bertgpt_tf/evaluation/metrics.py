"""Test-split metrics computed in NumPy from predictions (no extra dependency)."""

import numpy as np


def accuracy(labels: np.ndarray, predictions: np.ndarray) -> float:
    return float(np.mean(labels == predictions))


def macro_f1(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> float:
    scores = []
    for c in range(num_classes):
        tp = np.sum((predictions == c) & (labels == c))
        fp = np.sum((predictions == c) & (labels != c))
        fn = np.sum((predictions != c) & (labels == c))
        scores.append(2 * tp / max(2 * tp + fp + fn, 1))
    return float(np.mean(scores))


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    x, y = x - x.mean(), y - y.mean()
    return float(np.sum(x * y) / np.sqrt(np.sum(x * x) * np.sum(y * y)))


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (as scipy.stats.rankdata)."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), np.float64)
    ranks[order] = np.arange(1, len(x) + 1)
    values, inverse = np.unique(x, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks)
    return (sums / np.bincount(inverse))[inverse]


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    return pearson(_ranks(np.asarray(x)), _ranks(np.asarray(y)))


def classification_metrics(labels: np.ndarray, logits: np.ndarray) -> dict[str, float]:
    predictions = np.argmax(logits, axis=-1)
    return {
        "accuracy": accuracy(labels, predictions),
        "macro_f1": macro_f1(labels, predictions, logits.shape[-1]),
    }


def regression_metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    scores = np.reshape(scores, [-1])
    return {
        "pearson": pearson(labels, scores),
        "spearman": spearman(labels, scores),
        "mse": float(np.mean((labels - scores) ** 2)),
    }


def entity_spans(tags: list[str]) -> set[tuple[str, int, int]]:
    """(type, first word, last word) of each entity in an IOB2 sequence. As conlleval
    and seqeval's default mode: an I- tag that does not continue an entity of its type
    starts one."""
    spans, start, kind = set(), None, None
    for i, tag in enumerate([*tags, "O"]):
        continues = tag.startswith("I-") and kind == tag[2:]
        if start is not None and not continues:
            spans.add((kind, start, i - 1))
            start, kind = None, None
        if tag != "O" and not continues:
            start, kind = i, tag[2:]
    return spans


def entity_f1(true_tags: list[list[str]], predicted_tags: list[list[str]]) -> dict[str, float]:
    """Entity-level micro precision / recall / F1 with exact span and type match."""
    true_count = predicted_count = correct = 0
    for true, predicted in zip(true_tags, predicted_tags, strict=True):
        a, b = entity_spans(true), entity_spans(predicted)
        true_count, predicted_count, correct = (
            true_count + len(a),
            predicted_count + len(b),
            correct + len(a & b),
        )
    precision = correct / max(predicted_count, 1)
    recall = correct / max(true_count, 1)
    f1 = 2 * precision * recall / max(precision + recall, 1e-12)
    return {"precision": precision, "recall": recall, "f1": f1}

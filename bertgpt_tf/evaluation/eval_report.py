"""A fine-tuning run's `eval.json` / `eval.md`, and the Markdown table over runs that
`run_train.py --task=report` prints."""

import json
import os

from absl import logging

from bertgpt_tf.atomic_file import write_json, write_text


def write_eval(run_dir: str, report: dict) -> None:
    write_json(os.path.join(run_dir, "eval.json"), report, indent=2)
    write_text(os.path.join(run_dir, "eval.md"), eval_table([(run_dir, report)]) + "\n")
    logging.info("test: %s", report["test"])


def read_eval(run_dir: str) -> dict:
    path = os.path.join(run_dir, "eval.json")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no eval.json in {run_dir}: not a finished fine-tuning run")
    with open(path) as f:
        return json.load(f)


def report_table(reports: list[tuple[str, dict]], classification_data: dict) -> str:
    """`eval_table` of the runs, then the TF-IDF + logistic-regression floor on each
    classification dataset of `classification_data` ({name: task data with `splits`,
    `labels` and `targets(split)`}): on word 1-2 grams, or on character 1-3 grams
    when the texts have (almost) no spaces (Chinese, Japanese, Thai)."""
    from bertgpt_tf.evaluation.tfidf_baseline import (
        ANALYZERS,
        tfidf_analyzer,
        tfidf_logistic_regression,
    )

    lines = [eval_table(reports)]
    gains = gain_table(reports)
    if gains:
        lines += ["", gains]
    lines += ["", "| baseline | data | test |", "|---|---|---|"]
    for name, data in classification_data.items():
        train_texts = data.splits["train"].texts
        analyzer = tfidf_analyzer(train_texts)  # characters for text without spaces
        metrics = tfidf_logistic_regression(
            train_texts, data.targets("train"), data.splits["test"].texts,
            data.targets("test"), len(data.labels), analyzer,
        )  # fmt: skip
        test_text = ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        grams = ANALYZERS[analyzer][2]
        lines.append(f"| TF-IDF ({grams}) + logistic regression | {name} | {test_text} |")
    return "\n".join(lines)


# The metric a task's runs are compared on (README's tables, `gain_table`).
MAIN_METRIC = {"classify": "accuracy", "ner": "f1", "regress": "spearman", "embed": "spearman"}


def _run_name(run_dir: str) -> str:
    return os.path.basename(run_dir.rstrip("/"))


def eval_table(reports: list[tuple[str, dict]]) -> str:
    """Markdown: one row per run (start, method, trainable parameters, minutes, the main
    metric before fine-tuning (linear probe or zero-shot) and the test metrics after)."""
    rows = [
        "| run | task | data | start | method | trainable params | minutes | before | test |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run_dir, r in reports:
        test = ", ".join(f"{k} {v:.4f}" for k, v in r["test"].items())
        start = "scratch" if r["init_from"] == "none" else f"pretrained ({r['init_from']})"
        metric = MAIN_METRIC.get(r["task"])
        before = r.get("before", {}).get(metric)
        before = "—" if before is None else f"{metric} {before:.4f} ({r.get('before_method', '')})"
        rows.append(
            f"| {_run_name(run_dir)} | {r['task']} | {r['dataset']} | {start} "
            f"| {r['method']} | {r['parameters']['trainable']:,} / {r['parameters']['total']:,} "
            f"| {r['fine_tune_minutes']} | {before} | {test} |"
        )
    return "\n".join(rows)


def gain_table(reports: list[tuple[str, dict]]) -> str:
    """Markdown: each pretrained run against the from-scratch run of the same task and
    data among `reports`, on the task's main metric (x 100: points); "" if no pair."""
    scratch = {}
    for run_dir, r in reports:
        if r["init_from"] == "none":
            scratch.setdefault((r["task"], r["dataset"]), (run_dir, r))
    rows = []
    for run_dir, r in reports:
        base = scratch.get((r["task"], r["dataset"]))
        metric = MAIN_METRIC.get(r["task"])
        if r["init_from"] == "none" or base is None or metric not in r["test"]:
            continue
        ours, theirs = r["test"][metric], base[1]["test"][metric]
        rows.append(
            f"| {r['dataset']} | {r['task']} | {metric} | {theirs:.4f} ({_run_name(base[0])}) "
            f"| {ours:.4f} ({_run_name(run_dir)}) | {100 * (ours - theirs):+.1f} |"
        )
    if not rows:
        return ""
    header = [
        "| data | task | metric | from scratch | pretrained | gain (points) |",
        "|---|---|---|---|---|---|",
    ]
    return "\n".join(header + rows)

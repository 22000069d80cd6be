"""Bad training input ends `run_train.py` before training with one line `error: ...`
naming the file and why, exit status 1, and no export (issue 13, items 2, 7, 8)."""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
ROWS = [f"row {i} of the file\t{i % 2}\n" for i in range(20)]


def _classify(tmp_path, table: str) -> tuple[list[str], str]:
    path = tmp_path / "task.tsv"
    path.write_text(table, encoding="utf-8")
    flags = ["--task=classify", "--init_from=none", f"--train_data={path}"]
    return flags, str(path)


def _mlm(tmp_path, corpus: str, tiny_vocabulary: str) -> tuple[list[str], str]:
    path = tmp_path / "corpus.txt"
    path.write_text(corpus, encoding="utf-8")
    return ["--task=mlm", f"--train_data={path}", f"--vocabulary={tiny_vocabulary}"], str(path)


@pytest.mark.parametrize(
    "make, content, message",
    [
        (_classify, "text\tlabel\n" + "".join(ROWS) + "a stray\ttab\t1\n", "{path}:22: 3 fields, the header has 2 (a stray tab in the text?)"),
        (_classify, "text\tlabel\n" + "".join(ROWS[:6]), "{path}: 6 example(s) leave the validation split empty"),
        (_mlm, " \n\n\t\n\n", "no training batch from {path}: every line is blank or whitespace"),
    ],
    ids=["stray-tab", "six-examples", "whitespace-corpus"],
)  # fmt: skip
def test_bad_input_is_one_error_line_and_no_export(
    tmp_path, tiny_vocabulary, make, content, message
):
    args = (tmp_path, content) + ((tiny_vocabulary,) if make is _mlm else ())
    flags, path = make(*args)
    if make is _classify:
        flags.append(f"--vocabulary={tiny_vocabulary}")
    export_base = tmp_path / "saved_models"
    command = [sys.executable, "run_train.py", "--preset=tiny", "--steps=2",
               f"--model_dir={tmp_path / 'run'}", f"--export_base={export_base}", *flags]  # fmt: skip
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    last_line = done.stderr.strip().splitlines()[-1]
    assert done.returncode == 1, done.stderr[-2000:]
    assert last_line.startswith("error: " + message.format(path=path)), last_line
    assert "Traceback" not in done.stderr
    assert not export_base.exists()

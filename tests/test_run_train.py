"""run_train.py's exit: a fault the user can fix is one line `error: ...` on stderr, exit
status 1; the traceback only with --verbosity=1."""

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(__file__))


def run_train(*flags: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [sys.executable, "run_train.py", *flags]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)


def test_os_error_is_one_line_and_its_traceback_needs_verbosity(tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder\n")
    run_dir = str(a_file / "run")  # os.makedirs: NotADirectoryError, an OSError
    result = run_train("--task=vocab", f"--model_dir={run_dir}")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "Not a directory" in last and run_dir in last, last
    verbose = run_train("--task=vocab", f"--model_dir={run_dir}", "--verbosity=1")
    assert verbose.returncode == 1
    assert "Traceback" in verbose.stderr and "NotADirectoryError" in verbose.stderr
    assert verbose.stderr.strip().splitlines()[-1] == last


def test_diverged_run_stops_with_the_step_and_exports_nothing(
    tiny_corpus, tiny_vocabulary, tmp_path
):
    run_dir, exports = tmp_path / "run", tmp_path / "exports"
    result = run_train(
        "--task=mlm", "--preset=tiny", f"--train_data={os.path.dirname(tiny_corpus[0])}",
        f"--vocabulary={tiny_vocabulary}", f"--model_dir={run_dir}", f"--export_base={exports}",
        "--num_layers=1", "--hidden_dim=32", "--num_heads=2", "--intermediate_dim=64",
        "--batch_size=8", "--sequence_length=32", "--max_predictions_per_seq=5", "--steps=6",
        "--steps_per_epoch=2", "--validation_steps=1", "--warmup_steps=1",
        "--learning_rate=1e12",
    )  # fmt: skip
    assert result.returncode == 1, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        r"error: (loss is (nan|inf|-inf) at step \d+ \(epoch \d+\)|weights .* are not finite "
        r"after step \d+): training stopped, the last good backup and checkpoints are kept; "
        r"resume \(same --model_dir\) with a lower --learning_rate.*",
        last,
    ), last
    assert not exports.exists() and not (run_dir / "model.keras").exists()
    assert not (run_dir / "results.json").exists()


def test_a_flag_the_task_does_not_read_is_warned_about_by_name(tmp_path):
    """`--beam_size` (translate), `--top_k` (generate) and `--mask_rate` (MLM) given to
    `--task=vocab` each get a warning naming flag and task; a flag vocab reads does not."""
    a_file = tmp_path / "notes.txt"
    a_file.write_text("not a folder\n")
    result = run_train(
        "--task=vocab", f"--model_dir={a_file / 'run'}", "--beam_size=3", "--top_k=5",
        "--mask_rate=0.2", "--vocabulary_size_target=100",
    )  # fmt: skip
    warned = re.findall(r"--(\w+) does not apply to --task=vocab: ignored", result.stderr)
    assert sorted(warned) == ["beam_size", "mask_rate", "top_k"], result.stderr[-2000:]

"""Fuzzing the pipelines: random bytes, random Unicode and the hostile lines through
every input pipeline as `run_train.py` builds it (mlm and clm pretraining with a given
and with their own vocabulary, fine-tuning files as .tsv/.csv/.jsonl and CoNLL,
translation): no crash, no hang; a ValueError (or OSError, which run_train.py also
prints as one `error: ...` line) naming the file counts as handled; pretraining
reports `LineStats` (lines, invalid UTF-8 repaired, NUL bytes removed, truncated,
empty skipped).

    nice -n 19 taskset -c 1 python -m tools.fuzz_pipelines [--kilobytes=64]
"""

import collections
import gzip
import json
import os
import random
import sys
import tempfile
import threading
import time

from absl import app, flags

from tools.tiny_data import corpus_lines, hostile_bytes

flags.DEFINE_integer("kilobytes", 64, "size of each random file")
flags.DEFINE_integer("batches", 20, "training batches read per case")
flags.DEFINE_float("timeout", 120.0, "seconds before a case counts as a hang")
flags.DEFINE_integer("seed", 0, "fuzz seed")
FLAGS = flags.FLAGS


def random_unicode(rng: random.Random, n: int, exclude: str = "") -> str:
    """n code points from every plane (surrogates excluded: not encodable); one in 40
    a newline, so there are lines and paragraphs."""
    out = []
    while len(out) < n:
        c = rng.choice([rng.randint(0x20, 0x7F), rng.randint(0x80, 0xD7FF),
                        rng.randint(0xE000, 0x10FFFF)] * 13 + [0x0A])  # fmt: skip
        if chr(c) not in exclude:
            out.append(chr(c))
    return "".join(out)


def pretraining_files(folder: str, rng: random.Random) -> dict[str, bytes]:
    """{name: file bytes}; each also gets normal documents so a batch can exist."""
    size = FLAGS.kilobytes * 1024
    normal = "\n\n".join("\n".join(corpus_lines(3, seed=s)) for s in range(20)).encode()
    hostile = b"\n\n".join(v + b"\n" + v for v in hostile_bytes().values())
    return {
        "random_bytes": rng.randbytes(size),
        "random_unicode": random_unicode(rng, size // 3).encode(),
        "hostile_lines": hostile,
        "hostile+normal": hostile + b"\n\n" + normal,
        "random_bytes+normal": rng.randbytes(size // 4) + b"\n\n" + normal,
        "whitespace_only": b" \n\t\n\n   \r\n" * 500,
        "empty": b"",
        "corrupt.gz": b"\x1f\x8b\x08\x00" + rng.randbytes(4096),
        "truncated.gz": gzip.compress(normal)[:300],
    }


def write(folder: str, name: str, data: bytes) -> str:
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name if name.endswith(".gz") else name + ".txt")
    with open(path, "wb") as f:
        f.write(data)
    return path


def read_batches(dataset, n: int) -> int:
    return sum(1 for _ in dataset.take(n))


def pretraining_case(task: str, tokenizer: str, path: str, vocabulary: str, work: str):
    from bertgpt_tf.config import Config
    from pipelines.sanitize import LineStats
    from pipelines.task_data import make_datasets, pretraining_inputs

    config = Config.from_preset(
        "tiny", task=task, tokenizer=tokenizer, train_data=path, vocabulary=vocabulary,
        model_dir=tempfile.mkdtemp(dir=work), batch_size=4, sequence_length=32,
        max_sequence_length=64, validation_steps=2, validation_fraction=0.1,
        vocabulary_size_target=300 if tokenizer != "bpe" else 400, shuffle_buffer=10,
    )  # fmt: skip
    inputs = pretraining_inputs(config)
    batches = read_batches(inputs.train, FLAGS.batches)
    stats = LineStats()  # one whole pass, counted
    one_pass = make_datasets(config, [path], inputs.tokenizer, stats, repeat=False)[0]
    total = sum(1 for _ in one_pass)
    counts = stats.result()
    return f"{batches} batches read, {total} in one pass", counts


def finetune_files(rng: random.Random) -> dict[str, tuple[str, bytes]]:
    """{name: (extension, bytes)} of classification files with a header."""
    hostile = list(hostile_bytes().values())
    valid = [v for v in hostile if _utf8(v)]
    plain = [random_unicode(rng, rng.randint(1, 200), "\t\n\r,\"'\\\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029").encode()
             for _ in range(60)]  # fmt: skip
    files = {}
    for ext, sep in (("tsv", b"\t"), ("csv", b",")):

        def table(texts, sep=sep):
            rows = [t + sep + (b"pos" if i % 2 else b"neg") for i, t in enumerate(texts)]
            return b"text" + sep + b"label\n" + b"\n".join(rows) + b"\n"

        files[f"hostile_valid.{ext}"] = (ext, table(valid * 3))
        files[f"hostile_all.{ext}"] = (ext, table(hostile * 3))
        files[f"random_unicode.{ext}"] = (ext, table(plain))
        files[f"random_bytes.{ext}"] = (ext, rng.randbytes(FLAGS.kilobytes * 256))
    lines = [json.dumps({"text": t.decode("utf-8", "surrogatepass"), "label": i % 2})
             for i, t in enumerate(valid * 3 + plain)]  # fmt: skip
    files["hostile+unicode.jsonl"] = ("jsonl", "\n".join(lines).encode("utf-8", "surrogatepass"))
    files["random_bytes.jsonl"] = ("jsonl", rng.randbytes(FLAGS.kilobytes * 256))
    words = [w for t in valid + plain for w in t.decode("utf-8", "surrogatepass").split()]
    conll = "\n\n".join("\n".join(f"{w} NN O {rng.choice(['O', 'B-PER', 'I-PER'])}"
                                  for w in words[i:i + 7]) for i in range(0, len(words), 7))  # fmt: skip
    files["hostile.conll"] = ("conll", conll.encode("utf-8", "surrogatepass"))
    files["random_bytes.conll"] = ("conll", rng.randbytes(FLAGS.kilobytes * 256))
    return files


def _utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return b"\x00" not in data
    except UnicodeDecodeError:
        return False


def finetune_case(task: str, path: str, vocabulary: str, work: str):
    from bertgpt_tf.config import Config
    from pipelines.task_data import finetune_inputs

    config = Config.from_preset(
        "tiny", task=task, train_data=path, vocabulary=vocabulary, batch_size=4,
        sequence_length=32, model_dir=tempfile.mkdtemp(dir=work), max_unknown_share=1.0,
    )  # fmt: skip
    inputs = finetune_inputs(config)
    splits = {"train": inputs.train, "validation": inputs.validation, "test": inputs.test}
    read = {s: read_batches(d, FLAGS.batches) for s, d in splits.items()}
    return f"rows {inputs.sizes}, batches {read}", {}


def translation_case(source_lines: list[bytes], work: str):
    from bertgpt_tf.config import Config
    from pipelines.task_data import translation_inputs

    folder = tempfile.mkdtemp(dir=work)
    targets = corpus_lines(60)
    for split in ("train", "val", "test_2016_flickr"):
        for lang, lines in (("en", source_lines), ("de", [t.encode() for t in targets])):
            n = min(len(source_lines), len(targets))
            with open(os.path.join(folder, f"{split}.{lang}"), "wb") as f:
                f.write(b"\n".join(x.replace(b"\n", b" ") for x in lines[:n]) + b"\n")
    config = Config.from_preset(
        "tiny", task="translate", train_data=folder, model_dir=tempfile.mkdtemp(dir=work),
        batch_size=4, sequence_length=16, vocabulary_size_target=400, validation_steps=2,
    )  # fmt: skip
    inputs = translation_inputs(config)
    batches = read_batches(inputs.train, FLAGS.batches)
    return f"{inputs.sizes['train']} of {n} train pairs kept, {batches} batches read", {}


def run_case(function, *args) -> tuple[str, str, dict]:
    """(outcome, detail, line stats): ok | handled (ValueError/OSError) | CRASH | HANG."""
    box = {}

    def target():
        try:
            box["result"] = function(*args)
        except (ValueError, OSError) as e:
            box["handled"] = f"{type(e).__name__}: {e}"
        except BaseException as e:  # noqa: BLE001  (the finding)
            box["crash"] = f"{type(e).__name__}: {e}"

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(FLAGS.timeout)
    if thread.is_alive():
        return "HANG", f"still running after {FLAGS.timeout:.0f} s", {}
    if "result" in box:
        return "ok", *box["result"]
    if "handled" in box:
        return "handled", box["handled"].replace("\n", " ")[:160], {}
    return "CRASH", box["crash"].replace("\n", " ")[:300], {}


def main(argv):
    del argv
    import logging

    logging.getLogger("absl").setLevel(logging.ERROR)
    rng = random.Random(FLAGS.seed)
    work = tempfile.mkdtemp(prefix="fuzz-")
    started = time.monotonic()
    from tools.tiny_data import write_vocabulary

    wordpiece = write_vocabulary(os.path.join(work, "vocab.txt"), corpus_lines())
    cases = []
    for name, data in pretraining_files(work, rng).items():
        path = write(os.path.join(work, "pre"), name, data)
        for label, task, tokenizer, vocabulary in (
            ("mlm, given vocab", "mlm", "wordpiece", wordpiece),
            ("mlm, own vocab", "mlm", "wordpiece", ""),
            ("clm bpe, own vocab", "clm", "bpe", ""),
            ("clm char, own vocab", "clm", "char", ""),
        ):
            cases.append((label, name, pretraining_case, task, tokenizer, path, vocabulary, work))
    for name, (ext, data) in finetune_files(rng).items():
        path = write(os.path.join(work, "ft"), name, data)
        os.replace(path, path[: -len(".txt")])
        path = path[: -len(".txt")]
        task = "ner" if ext == "conll" else "classify"
        cases.append((f"{task} ({ext})", name, finetune_case, task, path, wordpiece, work))
    hostile = list(hostile_bytes().values())
    for name, lines in (
        ("hostile_lines", hostile * 4),
        ("random_unicode", [random_unicode(rng, rng.randint(0, 80), "\n").encode() for _ in range(60)]),
        ("random_bytes", [rng.randbytes(rng.randint(0, 80)).replace(b"\n", b" ") for _ in range(60)]),
    ):  # fmt: skip
        cases.append(("translate, own vocab", name, translation_case, lines, work))

    results = []
    for label, name, function, *args in cases:
        outcome, detail, stats = run_case(function, *args)
        results.append((label, name, outcome, detail, stats))
        print(f"  {label:22s} {name:22s} {outcome:8s} {detail[:110]}", flush=True)
    print()
    print(
        "| pipeline | input | outcome | lines | invalid UTF-8 repaired | NUL removed "
        "| truncated | empty skipped |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, name, outcome, _, s in results:
        counts = " | ".join(str(s.get(k, "")) for k in
                            ("lines", "invalid_utf8", "nul_bytes", "truncated", "empty"))  # fmt: skip
        print(f"| {label} | {name} | {outcome} | {counts} |")
    tally = collections.Counter(r[2] for r in results)
    bad = [r for r in results if r[2] in ("CRASH", "HANG")]
    for label, name, outcome, detail, _ in bad:
        print(f"FINDING {label} / {name}: {outcome}: {detail}")
    print(f"\n{dict(tally)} in {time.monotonic() - started:.0f} s; "
          f"{'FAILED' if bad else 'PASSED'} (inputs under {work})")  # fmt: skip
    sys.stdout.flush()
    os._exit(1 if bad else 0)  # a hung case's thread must not keep the process alive


if __name__ == "__main__":
    app.run(main)

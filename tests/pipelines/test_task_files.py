"""Fine-tuning data: the shared datasets' readers, seeded splits, and clear errors."""

import json

import pytest

from pipelines.task_files import (
    DataError,
    LabeledTexts,
    label_set,
    load_ner_data,
    load_splits,
    load_task_data,
    read_conll,
    read_stsb,
    read_table,
    split_80_10_10,
)  # fmt: skip


def _write(path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_tsv_csv_and_jsonl_read_the_same_examples(tmp_path):
    tsv = _write(tmp_path / "a.tsv", 'text\ttext_b\tlabel\nsay "hi"\tthere\tpos\nno\tway\tneg\n')
    csv = _write(tmp_path / "a.csv", 'text,text_b,label\n"say ""hi""",there,pos\nno,way,neg\n')
    rows = [
        {"text": 'say "hi"', "text_b": "there", "label": "pos"},
        {"text": "no", "text_b": "way", "label": "neg"},
    ]
    jsonl = _write(tmp_path / "a.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    for path in (tsv, csv, jsonl):
        data = read_table(path, text_b_column="text_b")
        assert data.texts == ['say "hi"', "no"] and data.texts_b == ["there", "way"]
        assert data.labels == ["pos", "neg"]


@pytest.mark.parametrize(
    "content, kwargs, message",
    [
        ("sentence\tlabel\nhello\t1\n", {}, "missing column(s) ['text']"),
        ("", {}, "missing column(s)"),
        ("text\tlabel\n", {}, "no examples (empty file?)"),
        (
            "text\tlabel\nhello\tfive\n",
            {"regression": True},
            "a.tsv:2: score 'five' is not a number",
        ),
        (
            "text\tlabel\nhello\t2.5\nworld\tnan\n",
            {"regression": True},
            "a.tsv:3: score 'nan' is not a finite number",
        ),
        (
            "text\tlabel\nhello\t-Infinity\n",
            {"regression": True},
            "a.tsv:2: score '-Infinity' is not a finite number",
        ),
    ],
)
def test_bad_files_name_the_problem(tmp_path, content, kwargs, message):
    with pytest.raises(DataError, match=None) as error:
        read_table(_write(tmp_path / "a.tsv", content), **kwargs)
    assert message in str(error.value)
    with pytest.raises(DataError, match="no such file"):
        read_table(str(tmp_path / "missing.tsv"))


def test_labels_outside_the_training_set_are_refused():
    splits = {
        "train": LabeledTexts(["a", "b"], None, ["pos", "neg"]),
        "test": LabeledTexts(["c"], None, ["neutral"]),
    }
    assert label_set({"train": splits["train"]}, {}) == ["neg", "pos"]
    with pytest.raises(DataError, match=r"test split has label\(s\) \['neutral'\] outside"):
        label_set(splits, {})
    with pytest.raises(DataError, match="1 distinct label"):
        label_set({"train": LabeledTexts(["a"], None, ["pos"])}, {})


def test_seeded_split_is_80_10_10_disjoint_and_reproducible():
    data = LabeledTexts([str(i) for i in range(1000)], None, [i % 2 for i in range(1000)])
    a, b = split_80_10_10(data, seed=3), split_80_10_10(data, seed=3)
    assert {k: len(v) for k, v in a.items()} == {"train": 800, "validation": 100, "test": 100}
    assert a["test"].texts == b["test"].texts != split_80_10_10(data, seed=4)["test"].texts
    assert len(set(a["train"].texts) | set(a["validation"].texts) | set(a["test"].texts)) == 1000


def test_stsb_reader_keeps_seven_columns(tmp_path):
    path = _write(
        tmp_path / "sts.csv",
        "g\tf\ty\t1\t2.500\tA girl.\tA woman.\nmain\tx\ty\t2\t4.0\tB\tC\textra\tcols\n",
    )
    data = read_stsb(path)
    with pytest.raises(DataError, match=r"bad_sts.csv:2: score 'inf' is not a finite number"):
        read_stsb(
            _write(tmp_path / "bad_sts.csv", "g\tf\ty\t1\t2.5\tA.\tB.\ng\tf\ty\t2\tinf\tA.\tB.\n")
        )
    assert (
        data.labels == [2.5, 4.0]
        and data.texts == ["A girl.", "B"]
        and data.texts_b == ["A woman.", "C"]
    )


def test_user_file_is_split_and_unknown_dataset_refused(tmp_path):
    lines = "".join(f"text {i}\t{i % 3}\n" for i in range(50))
    path = _write(tmp_path / "mine.tsv", "text\tlabel\n" + lines)
    splits, names = load_splits("classify", train_data=path)
    assert [len(splits[s]) for s in ("train", "validation", "test")] == [40, 5, 5] and names == {}
    with pytest.raises(DataError, match="unknown dataset 'imdb'"):
        load_splits("classify", dataset="imdb")


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("a.tsv", b"text\tlabel\nfine\tpos\n\nstray\ttab\tneg\n", "a.tsv:4: 3 fields, the header has 2 (a stray tab in the text?)"),
        ("a.csv", b"text,label\nfine,pos\nstray,comma,neg\n", "a.csv:3: 3 fields, the header has 2 (a stray ',' in the text?)"),
        ("a.tsv", "text\tlabel\nfine\tpos\ncafé\tneg\n".encode("latin-1"), "a.tsv:3: not UTF-8 (byte 0xe9 at column 4)"),
        ("a.jsonl", '{"text": "ok", "label": "pos"}\n{"text": "né", "label": "neg"}\n'.encode("latin-1"), "a.jsonl:2: not UTF-8 (byte 0xe9 at column 12)"),
        ("a.tsv", b"text\tlabel\nfine\tpos\n" + b"x" * 200_000 + b"\tneg\n", "a.tsv:3: field larger than field limit (131072)"),
        ("a.csv", b'text,label\n"' + b"x" * 200_000 + b'",neg\n', "a.csv:2: field larger than field limit (131072)"),
    ],
    ids=["tsv-stray-tab", "csv-stray-comma", "tsv-latin1", "jsonl-latin1", "tsv-long-field", "csv-long-field"],
)  # fmt: skip
def test_malformed_rows_name_the_file_and_line(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as error:
        read_table(str(path))
    assert str(error.value).startswith(f"{tmp_path}/{message}")


def test_stsb_and_conll_readers_name_the_line_of_bad_bytes(tmp_path):
    stsb = tmp_path / "sts.csv"
    stsb.write_bytes(b"g\tf\t2012\t1\t4.0\tok\tfine\ng\tf\t2012\t2\t1.0\tcaf\xe9\tbar\n")
    with pytest.raises(DataError, match=r"sts.csv:2: not UTF-8 \(byte 0xe9 at column 19\)"):
        read_stsb(str(stsb))
    conll = tmp_path / "ner.txt"
    conll.write_bytes(b"EU B-ORG\nrejects O\n\nPar\xeds B-LOC\n")
    with pytest.raises(DataError, match=r"ner.txt:4: not UTF-8 \(byte 0xed at column 4\)"):
        read_conll(str(conll))


def test_a_utf8_byte_order_mark_is_accepted(tmp_path):
    bom = "\ufeff"
    for name, text in [
        ("a.tsv", f"{bom}text\tlabel\nhello\tpos\n"),
        ("a.csv", f"{bom}text,label\nhello,pos\n"),
        ("a.jsonl", f'{bom}{{"text": "hello", "label": "pos"}}\n'),
    ]:
        data = read_table(_write(tmp_path / name, text))
        assert (data.texts, data.labels) == (["hello"], ["pos"]), name
    stsb = _write(tmp_path / "sts.csv", f"{bom}g\tf\t2012\t1\t4.0\tok\tfine\n")
    assert read_stsb(stsb).labels == [4.0]
    conll = _write(tmp_path / "ner.txt", f"{bom}EU B-ORG\nrejects O\n")
    assert read_conll(conll).words == [["EU", "rejects"]]


@pytest.mark.parametrize(
    "count, empty, sizes", [(4, "test", "train 3, validation 1, test 0"), (6, "validation", "train 5, validation 0, test 1")]
)  # fmt: skip
def test_too_few_examples_for_every_split_are_refused(tmp_path, count, empty, sizes):
    rows = "".join(f"text {i}\t{'pos' if i % 2 else 'neg'}\n" for i in range(count))
    path = _write(tmp_path / "tiny.tsv", "text\tlabel\n" + rows)
    expected = f"{path}: {count} example(s) leave the {empty} split empty ({sizes}; split 80%/10%/10%): give at least 8"
    with pytest.raises(DataError) as error:
        load_splits("classify", train_data=path)
    assert str(error.value) == expected
    eight = _write(tmp_path / "eight.tsv", "text\tlabel\n" + rows * 2)
    assert [len(s) for s in load_splits("classify", train_data=eight)[0].values()][1:] == [1, 1]
    conll = _write(tmp_path / "ner.txt", "".join(f"w{i} B-PER\nsaid O\n\n" for i in range(count)))
    with pytest.raises(DataError, match=f"ner.txt: {count} example.s. leave the {empty} split"):
        load_ner_data(conll)


def test_a_folder_in_the_glue_layout_gives_its_splits(tmp_path):
    """train + dev + an unlabelled test (GLUE's): dev is the test split, 10 % of train
    validates; with a labelled test file, dev validates."""
    rows = [f"text {i}\t{i % 2}\n" for i in range(40)]
    (tmp_path / "train.tsv").write_text("text\tlabel\n" + "".join(rows))
    (tmp_path / "dev.tsv").write_text("text\tlabel\n" + "".join(rows[:7]))
    (tmp_path / "test.tsv").write_text("index\ttext\n0\tunlabelled\n")
    splits = load_task_data("classify", "", str(tmp_path)).splits
    assert {k: len(v) for k, v in splits.items()} == {"train": 36, "validation": 4, "test": 7}
    (tmp_path / "test.tsv").write_text("text\tlabel\n" + "".join(rows[:10]))
    splits = load_task_data("classify", "", str(tmp_path)).splits
    assert {k: len(v) for k, v in splits.items()} == {"train": 40, "validation": 7, "test": 10}
    (tmp_path / "train.tsv").unlink()
    with pytest.raises(DataError, match="needs train.tsv"):
        load_task_data("classify", "", str(tmp_path))

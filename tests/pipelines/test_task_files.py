"""Fine-tuning data: the shared datasets' readers, seeded splits, and clear errors."""

import json

import pytest

from pipelines.task_files import (
    DataError,
    LabeledTexts,
    label_set,
    load_splits,
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

import gzip
import os

import pytest
import tensorflow as tf

from pipelines.sources import read_paragraphs, resolve_data_dir, resolve_text_files


def _collect(dataset):
    return [{k: v.decode() for k, v in e.items()} for e in dataset.as_numpy_iterator()]


def test_paragraphs_carry_document_and_previous(tmp_path):
    path = tmp_path / "c.txt.gz"
    with gzip.open(path, "wt") as f:
        f.write("T1\nA1\nA2\n\nT2\n\n\nB1\n")
    rows = _collect(read_paragraphs([str(path)], validation_fraction=0.0))
    assert [r["text"] for r in rows] == ["T1", "A1", "A2", "T2", "B1"]
    assert [r["previous"] for r in rows] == ["", "T1", "A1", "", ""]
    docs = [r["document"] for r in rows]
    assert docs[0] == docs[1] == docs[2] != docs[3] != docs[4]


def test_validation_holds_out_whole_documents(tiny_corpus):
    train = _collect(read_paragraphs(tiny_corpus, "train", validation_fraction=0.2))
    valid = _collect(read_paragraphs(tiny_corpus, "validation", validation_fraction=0.2))
    train_docs, valid_docs = {r["document"] for r in train}, {r["document"] for r in valid}
    assert not train_docs & valid_docs
    assert 0.1 < len(valid_docs) / (len(train_docs) + len(valid_docs)) < 0.3
    everything = _collect(read_paragraphs(tiny_corpus, "train", validation_fraction=0.0))
    assert len(train) + len(valid) == len(everything)


def test_missing_and_empty_corpus_errors_name_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        resolve_text_files(str(tmp_path / "nowhere"))
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(ValueError, match="empty.txt"):
        resolve_text_files(str(tmp_path / "empty.txt"))
    os.makedirs(tmp_path / "folder")
    with pytest.raises(FileNotFoundError, match="folder"):
        resolve_text_files(str(tmp_path / "folder"))
    with pytest.raises(FileNotFoundError, match="no_such_dir"):
        resolve_data_dir(str(tmp_path / "no_such_dir"))


def test_folder_and_glob_and_env(tiny_corpus, monkeypatch):
    folder = os.path.dirname(tiny_corpus[0])
    assert resolve_text_files(folder) == tiny_corpus
    assert resolve_text_files(os.path.join(folder, "*.gz")) == tiny_corpus[:1]
    monkeypatch.setenv("BERTGPT_DATA_DIR", folder)
    assert resolve_data_dir() == os.path.normpath(folder)
    assert resolve_text_files(corpora=(".",)) == tiny_corpus


def test_bad_lines_do_not_crash(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"ok line\n\xff\xfe bad\n\x00\x00\n" + b"y" * 2_000_000 + b"\n\nnext doc\n")
    rows = list(read_paragraphs([str(path)], max_line_bytes=1000, validation_fraction=0.0))
    texts = [r["text"].numpy() for r in rows]
    assert texts[0] == b"ok line" and len(texts[2]) == 1000 and texts[-1] == b"next doc"
    assert len(texts) == 4  # the NUL-only line is dropped
    assert (
        all(isinstance(t, bytes) for t in texts)
        and tf.strings.unicode_decode(texts, "UTF-8") is not None
    )


@pytest.mark.parametrize("damage", ["corrupt", "truncated"])
def test_a_broken_gzip_corpus_is_one_error_naming_it(tmp_path, damage):
    """zlib's `error` / EOFError from a damaged .gz were tracebacks (pipeline fuzzing)."""
    import gzip

    from pipelines.sources import warn_invalid_utf8

    text = "".join(f"paragraph {i} of {i * 7919 % 10007} words.\n" for i in range(2000))
    whole = gzip.compress(text.encode())
    broken = (
        whole[:10] + b"\x07" * 40 + whole[50:] if damage == "corrupt" else whole[: len(whole) // 2]
    )
    path = tmp_path / f"{damage}.txt.gz"
    path.write_bytes(broken)
    with pytest.raises(ValueError, match=f"{path}: a corrupt or truncated gzip file"):
        warn_invalid_utf8([str(path)])

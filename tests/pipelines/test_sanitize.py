import tensorflow as tf

from pipelines.sanitize import LineStats, sanitize_lines

BAD = [
    b"  fine line ",
    b"caf\xc3\xa9 \xff\xfe broken",
    b"nul\x00byte",
    b"x" * 1_000_000,
    b"\x00",
    b"",
]


def test_repairs_and_counts():
    stats = LineStats()
    out = sanitize_lines(tf.constant(BAD), max_line_bytes=1000, stats=stats).numpy().tolist()
    assert out[0] == b"fine line"
    assert out[1] == "café \ufffd\ufffd broken".encode()
    assert out[2] == b"nulbyte"
    assert out[3] == b"x" * 1000
    assert out[4] == out[5] == b""
    assert stats.result() == {
        "lines": 6, "invalid_utf8": 1, "nul_bytes": 2, "truncated": 1, "empty": 2,
    }  # fmt: skip


def test_truncation_mid_character_gives_valid_utf8():
    line = tf.constant(["é" * 10])  # 2 bytes each
    out = sanitize_lines(line, max_line_bytes=5).numpy()[0].decode("utf-8")  # must decode
    assert out == "éé\ufffd"


def test_same_result_inside_dataset_map():
    stats = LineStats()
    eager = sanitize_lines(tf.constant(BAD), 1000).numpy().tolist()
    dataset = tf.data.Dataset.from_tensor_slices(BAD).map(lambda x: sanitize_lines(x, 1000, stats))
    assert [x for x in dataset.as_numpy_iterator()] == eager
    assert stats.result()["nul_bytes"] == 2

import numpy as np
import tensorflow as tf

from pipelines.pairs import document_chunks, make_segment_pairs, split_chunks


class _Ids:
    """A tokenizer of "<number>" words: each word is its number."""

    def tokenize(self, text):
        words = tf.strings.split(text)
        return tf.strings.to_number(words, tf.int32)


def _paragraphs(documents: list[list[list[int]]]) -> tf.data.Dataset:
    texts, keys = [], []
    for d, paragraphs in enumerate(documents):
        for paragraph in paragraphs:
            texts.append(" ".join(map(str, paragraph)))
            keys.append(f"file:{d}")
    return tf.data.Dataset.from_tensor_slices({"text": texts, "document": keys})


def test_chunks_fill_to_the_budget_inside_one_document():
    # paragraph p of document d is [100 d + p] * length
    lengths = [[3, 4, 2, 5, 1], [7], [2, 2], [9, 1, 1, 1, 1], [4, 4, 4, 2]]
    documents = [
        [[100 * d + p] * n for p, n in enumerate(paragraph_lengths)]
        for d, paragraph_lengths in enumerate(lengths)
    ]
    chunks = list(document_chunks(_paragraphs(documents), _Ids(), 8).as_numpy_iterator())
    got = [
        (c["document"].decode(), sorted(set(c["tokens"].tolist())), c["paragraph_lengths"].tolist())
        for c in chunks
    ]
    assert got == [
        ("file:0", [0, 1, 2], [3, 4, 2]),  # 9 >= 8: full
        ("file:0", [3, 4], [5, 1]),  # the document's end ends the chunk
        # document 1 has one paragraph: no pair
        ("file:2", [200, 201], [2, 2]),
        ("file:3", [300, 301], [9, 1]),  # at least two paragraphs, however long the first
        ("file:3", [302, 303, 304], [1, 1, 1]),
        ("file:4", [400, 401], [4, 4]),
        ("file:4", [402, 403], [4, 2]),  # the file's end ends its last chunk
    ]
    for c in chunks:
        expected = np.repeat(sorted(set(c["tokens"].tolist())), c["paragraph_lengths"])
        np.testing.assert_array_equal(c["tokens"], expected)  # whole paragraphs, in order


def test_a_left_over_paragraph_and_one_paragraph_documents_give_no_chunk():
    documents = [[[1] * 5, [2] * 5, [3]], [[4]], [[5] * 20]]
    chunks = list(document_chunks(_paragraphs(documents), _Ids(), 8).as_numpy_iterator())
    assert [c["tokens"].tolist() for c in chunks] == [[1] * 5 + [2] * 5]


def _chunks(n=400):
    """Row i: paragraphs [10 i + 1] * 2, [10 i + 2] * 3, ... (2 to 5 of them)."""
    rng = np.random.default_rng(0)
    lengths = [list(range(2, 2 + rng.integers(2, 6))) for _ in range(n)]
    tokens = [np.repeat(10 * i + np.arange(1, len(row) + 1), row) for i, row in enumerate(lengths)]
    return tf.ragged.constant(tokens, tf.int32), tf.ragged.constant(lengths, tf.int32)


def test_split_is_at_a_paragraph_boundary_and_covers_every_boundary():
    tf.random.set_seed(1)
    tokens, lengths = _chunks()
    first, second = split_chunks(tokens, lengths)
    cuts = set()
    for row, a, b, paragraph_lengths in zip(
        tokens.to_list(), first.to_list(), second.to_list(), lengths.to_list(), strict=True
    ):
        assert a + b == row and a and b
        assert a[-1] != b[0]  # no paragraph is cut
        cuts.add((len(paragraph_lengths), a[-1] % 10))
    # every boundary of 2 to 5 paragraphs is drawn
    assert cuts == {(n, k) for n in range(2, 6) for k in range(1, n)}


def test_nsp_labels_are_always_true():
    tf.random.set_seed(1)
    tokens, lengths = _chunks()
    first, second = split_chunks(tokens, lengths)
    documents = tf.constant([f"d{i // 2}" for i in range(400)])  # pairs of rows share a doc
    a, b, label = make_segment_pairs(first, second, tokens, documents, "nsp")
    docs = documents.numpy()
    for i, (row_a, row_b) in enumerate(zip(a.to_list(), b.to_list(), strict=True)):
        assert row_a == first[i].numpy().tolist()
        if label[i]:
            j = row_b[0] // 10  # the whole chunk of row j of another document
            assert docs[j] != docs[i] and j == (i - 1) % 400
            assert row_b == tokens[j].numpy().tolist()
        else:
            assert row_b == second[i].numpy().tolist()
    # half the rows flip a coin heads, minus those whose neighbour shares the document
    assert 0.15 < label.numpy().mean() < 0.4


def test_sop_swaps_about_half_and_labels_swaps():
    tokens, lengths = _chunks()
    first, second = split_chunks(tokens, lengths)
    documents = tf.constant([f"d{i}" for i in range(400)])
    a, b, label = make_segment_pairs(first, second, tokens, documents, "sop")
    swapped = [row_a[0] > row_b[0] for row_a, row_b in zip(a.to_list(), b.to_list(), strict=True)]
    np.testing.assert_array_equal(swapped, label.numpy().astype(bool))
    assert 0.4 < label.numpy().mean() < 0.6


def test_inside_dataset_map():
    tokens, lengths = _chunks(8)
    dataset = tf.data.Dataset.from_tensors((tokens, lengths)).map(
        lambda t, n: make_segment_pairs(*split_chunks(t, n), t, tf.fill([8], "d"), "sop")
    )
    first, second, label = next(iter(dataset))
    assert first.shape[0] == second.shape[0] == label.shape[0] == 8

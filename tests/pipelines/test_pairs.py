import numpy as np
import tensorflow as tf

from pipelines.pairs import make_segment_pairs


def _batch(n=400):
    return {
        "previous": tf.constant([f"p{i}" for i in range(n)]),
        "text": tf.constant([f"t{i}" for i in range(n)]),
        "document": tf.constant([f"d{i // 2}" for i in range(n)]),  # pairs of rows share a doc
    }


def test_nsp_labels_are_always_true():
    tf.random.set_seed(1)
    batch = _batch()
    first, second, label = (x.numpy() for x in make_segment_pairs(batch, "nsp"))
    docs = batch["document"].numpy()
    for i in range(len(label)):
        assert first[i] == f"p{i}".encode()
        if label[i]:
            j = int(second[i][1:])  # came from row j of another document
            assert docs[j] != docs[i] and j != i
        else:
            assert second[i] == f"t{i}".encode()
    # half the rows flip a coin heads, minus those whose neighbour shares the document
    assert 0.15 < label.mean() < 0.4


def test_sop_swaps_about_half_and_labels_swaps():
    first, second, label = (x.numpy() for x in make_segment_pairs(_batch(), "sop"))
    swapped = np.array([f.startswith(b"t") for f in first])
    np.testing.assert_array_equal(swapped, label.astype(bool))
    assert 0.4 < label.mean() < 0.6


def test_inside_dataset_map():
    dataset = tf.data.Dataset.from_tensors(_batch(8)).map(lambda b: make_segment_pairs(b, "sop"))
    first, second, label = next(iter(dataset))
    assert first.shape == second.shape == label.shape == (8,)

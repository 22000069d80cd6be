import numpy as np
import pytest
import tensorflow as tf

from bertgpt_tf.tokenizers.special_tokens import CLS_ID, MASK_ID, SEP_ID
from bertgpt_tf.tokenizers.wordpiece_tokenizer import group_words
from pipelines.mask import UNSELECTABLE_IDS, mask_tokens

VOCAB = 1000
CONTINUATION = tf.constant(np.arange(VOCAB) >= 600)  # ids >= 600 play "##" pieces


def _batch(rows=2000, length=100, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, VOCAB, (rows, length))
    ids[:, 0], ids[:, -1] = CLS_ID, SEP_ID
    ids[:, length // 2] = SEP_ID
    lengths = rng.integers(length // 2 + 1, length + 1, rows)  # ragged rows
    return tf.RaggedTensor.from_tensor(tf.constant(ids, tf.int32), lengths=lengths)


def test_masking_statistics_15_percent_80_10_10():
    tf.random.set_seed(0)
    ids = _batch()
    out = mask_tokens(ids, VOCAB, max_predictions_per_seq=100, mask_rate=0.15)
    weights = out["mask_weights"].numpy()
    positions = out["mask_positions"].numpy()
    selectable = (ids.row_lengths().numpy() - 3).sum()  # minus [CLS] and two [SEP]
    selected = weights.sum()
    # Tolerance: +-1 percentage point of the selection rate over ~150k tokens.
    assert abs(selected / selectable - 0.15) < 0.01
    masked = out["token_ids"].to_tensor().numpy()
    original = ids.to_tensor().numpy()
    rows = np.nonzero(weights)[0]
    cols = positions[weights > 0]
    new, old = masked[rows, cols], original[rows, cols]
    np.testing.assert_array_equal(out["mask_ids"].numpy()[weights > 0], old)
    as_mask = np.mean(new == MASK_ID)
    as_random = np.mean((new != MASK_ID) & (new != old))
    unchanged = np.mean(new == old)
    # Tolerance: +-2 percentage points for each of the 80/10/10 shares (~22k selections).
    assert abs(as_mask - 0.8) < 0.02 and abs(as_random - 0.1) < 0.02 and abs(unchanged - 0.1) < 0.02
    # Nothing outside the selected positions changes.
    changed = masked != original
    assert not changed[~_selected_matrix(rows, cols, masked.shape)].any()


def _selected_matrix(rows, cols, shape):
    selected = np.zeros(shape, bool)
    selected[rows, cols] = True
    return selected


def test_special_tokens_never_selected():
    tf.random.set_seed(1)
    ids = _batch(rows=500)
    out = mask_tokens(ids, VOCAB, max_predictions_per_seq=100, mask_rate=0.5)
    labels = out["mask_ids"].numpy()[out["mask_weights"].numpy() > 0]
    assert not np.isin(labels, [CLS_ID, SEP_ID, 0]).any()


def test_cap_and_static_shapes():
    out = mask_tokens(_batch(rows=8), VOCAB, max_predictions_per_seq=5, mask_rate=0.5)
    for key in ("mask_positions", "mask_ids", "mask_weights"):
        assert out[key].shape == (8, 5)
    assert out["mask_weights"].numpy().sum() == 40


def test_group_words_nests_pieces():
    ids = tf.ragged.constant(
        [[CLS_ID, 10, 700, 701, 11, SEP_ID, 650, 12, SEP_ID], [], [CLS_ID, 13, SEP_ID], []]
    )
    words = group_words(ids, CONTINUATION, UNSELECTABLE_IDS).to_list()
    # the stray "##" piece after [SEP] starts its own word
    assert words == [
        [[CLS_ID], [10, 700, 701], [11], [SEP_ID], [650], [12], [SEP_ID]],
        [],
        [[CLS_ID], [13], [SEP_ID]],
        [],
    ]


@pytest.mark.parametrize("in_dataset_map", [False, True])
def test_whole_word_masking_never_splits_a_word(in_dataset_map):
    tf.random.set_seed(2)
    ids = _batch(rows=300)

    def step(x):
        return mask_tokens(
            x, VOCAB, max_predictions_per_seq=100, mask_rate=0.15, is_continuation=CONTINUATION
        )

    out = next(iter(tf.data.Dataset.from_tensors(ids).map(step))) if in_dataset_map else step(ids)
    weights, positions = out["mask_weights"].numpy(), out["mask_positions"].numpy()
    continuation = CONTINUATION.numpy()
    checked = 0
    for row, tokens in enumerate(ids.to_list()):
        chosen = set(positions[row][weights[row] > 0].tolist())
        starts = [
            p for p, t in enumerate(tokens)
            if p == 0 or not continuation[t] or tokens[p - 1] in (CLS_ID, SEP_ID)
        ]  # fmt: skip
        for start, end in zip(starts, starts[1:] + [len(tokens)], strict=True):
            flags = {p in chosen for p in range(start, end)}
            assert len(flags) == 1, f"row {row}: word {start}..{end} partly masked"
            checked += flags == {True} and end - start > 1
    assert checked > 100  # many multi-piece words were masked whole

import random

import numpy as np
import pytest

from bertgpt_tf.tokenizers.char_tokenizer import CharTokenizer, build_char_vocabulary
from pipelines.clm_dataset import make_clm_dataset

# 9,600 random characters: every 15-character window occurs once, so its place is known.
TEXT = "".join(random.Random(0).choices("abcdefghij \n", k=9600))


@pytest.fixture(scope="module")
def play(tmp_path_factory):
    path = tmp_path_factory.mktemp("play") / "play.txt"
    path.write_text(TEXT)
    return str(path), CharTokenizer(build_char_vocabulary(TEXT))


def _decode(tokenizer, ids):
    return "".join(tokenizer.vocabulary[i] if i < len(tokenizer.vocabulary) else "¶" for i in ids)


def test_tail_holdout_is_the_last_tenth_and_labels_shift(play):
    path, tokenizer = play
    kwargs = dict(holdout="tail", validation_fraction=0.1)
    valid = list(
        make_clm_dataset([path], tokenizer, 2, 15, split="validation", **kwargs).as_numpy_iterator()
    )
    x, y = valid[0]
    assert x["token_ids"].shape == y.shape == (2, 15) and (x["padding_mask"] == 1).all()
    np.testing.assert_array_equal(x["token_ids"][:, 1:], y[:, :-1])
    held_out = TEXT[int(len(TEXT) * 0.9) :]
    assert (
        _decode(tokenizer, x["token_ids"][0]) == held_out[:15]
    )  # validation: in order, from the cut
    assert len(valid) == len(held_out) // 16 // 2
    train = make_clm_dataset([path], tokenizer, 2, 15, **kwargs)
    for x, _ in train.take(50).as_numpy_iterator():
        for row in x["token_ids"]:
            assert _decode(tokenizer, row) in TEXT[: int(len(TEXT) * 0.9)]  # never validation text


def test_window_borders_move_between_passes(play):
    path, tokenizer = play
    train = make_clm_dataset([path], tokenizer, 1, 15, holdout="tail", shuffle_buffer=1, seed=3)
    per_pass = int(len(TEXT) * 0.9) // 16
    windows = [
        _decode(tokenizer, np.append(x["token_ids"][0], y[0, -1]))
        for x, y in train.take(per_pass * 3).as_numpy_iterator()
    ]
    starts = [TEXT.find(w) for w in windows]
    assert starts.count(-1) <= 3  # only windows spanning the end and restart of a pass
    offsets = {start % 16 for start in starts if start >= 0}
    assert 1 < len(offsets) <= 3  # one tiling per pass, a new offset each pass


def test_documents_start_with_end_token_and_join_paragraphs(tiny_corpus):
    text = "".join(open(p, encoding="utf-8").read() for p in tiny_corpus[1:])
    tokenizer = CharTokenizer(build_char_vocabulary(text))
    dataset = make_clm_dataset(
        tiny_corpus[1:], tokenizer, 4, 64, split="validation", validation_fraction=0.5
    )
    ids = np.concatenate([x["token_ids"].ravel() for x, _ in dataset.as_numpy_iterator()])
    assert (ids == tokenizer.end_id).sum() > 3  # one per held-out document
    decoded = _decode(tokenizer, ids).split("¶")
    for document in decoded[1:-1]:
        assert document.startswith("Document ") and "\n" in document and "\n\n" not in document


def test_every_iterator_of_a_training_dataset_sees_the_same_batches(play):
    """As for MLM: a second iterator (Keras peeks first) must not reshuffle, or a resumed
    run's `skip()` lands on other windows than the unbroken run's."""
    path, tokenizer = play
    train = make_clm_dataset([path], tokenizer, 4, 15, holdout="tail", shuffle_buffer=20, seed=3)
    first, second = ([x["token_ids"] for x, _ in train.take(300).as_numpy_iterator()] for _ in "ab")
    np.testing.assert_array_equal(np.stack(first), np.stack(second))

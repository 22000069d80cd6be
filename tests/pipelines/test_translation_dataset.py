"""Parallel files -> packed, length-bucketed translation batches; bad files fail clearly."""

import gzip
import os

import numpy as np
import pytest
import tensorflow as tf

from bertgpt_tf.tokenizers.sentencepiece_tokenizer import SentencePieceTokenizer
from bertgpt_tf.tokenizers.sentencepiece_vocab import train_sentencepiece
from bertgpt_tf.tokenizers.seq2seq_packing import pack_source, pack_target
from pipelines.translation_dataset import (
    bucket_lengths,
    make_translation_dataset,
    read_parallel,
    split_files,
)
from pipelines.vocabulary import ensure_translation_vocabularies
from tests.translation_corpus import write_parallel_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("multi30k"))
    splits = write_parallel_corpus(folder)
    sources, targets = splits["train"]
    model = train_sentencepiece(sources + targets, 340, progress=False)
    return folder, splits, SentencePieceTokenizer(model)


def test_pack_eagerly_and_in_dataset_map():
    ids = tf.ragged.constant([[5, 6, 7, 8], [9], []])
    eager = pack_source(ids, end_id=2, pad_id=0, length=4)
    assert eager["encoder_token_ids"].numpy().tolist() == [[5, 6, 7, 2], [9, 2, 0, 0], [2, 0, 0, 0]]
    assert eager["encoder_padding_mask"].numpy().tolist() == [[1] * 4, [1, 1, 0, 0], [1, 0, 0, 0]]
    inputs, labels, weights = pack_target(ids, end_id=2, pad_id=0, length=4)
    assert inputs["decoder_token_ids"].numpy().tolist() == [
        [2, 5, 6, 7],
        [2, 9, 0, 0],
        [2, 0, 0, 0],
    ]
    assert labels.numpy().tolist() == [[5, 6, 7, 2], [9, 2, 0, 0], [2, 0, 0, 0]]
    np.testing.assert_array_equal(weights, inputs["decoder_padding_mask"])
    mapped = tf.data.Dataset.from_tensors(ids).map(lambda x: pack_target(x, 2, 0, 4))
    (graph_inputs, graph_labels, _) = next(iter(mapped))
    assert graph_inputs["decoder_token_ids"].shape == (3, 4)  # static in the graph too
    np.testing.assert_array_equal(graph_labels, labels)


def test_batches_are_bucketed_static_and_shifted(corpus):
    folder, splits, tokenizer = corpus
    sources, targets = splits["train"]
    assert bucket_lengths(48) == (16, 24, 32, 48) and bucket_lengths(12) == (4, 6, 8, 12)
    dataset = make_translation_dataset(sources, targets, tokenizer, tokenizer, 12, 16)
    lengths, pairs = [], 0
    for inputs, labels, weights in dataset:
        batch, length = labels.shape
        lengths.append(length)
        assert batch == 16 and length in bucket_lengths(12)
        assert all(v.shape == (16, length) for v in inputs.values())
        decoder = inputs["decoder_token_ids"].numpy()
        real = weights.numpy() > 0
        assert (decoder[:, 0] == tokenizer.end_id).all()
        np.testing.assert_array_equal(
            decoder[:, 1:][real[:, 1:]], labels.numpy()[:, :-1][real[:, 1:]]
        )
        ends = labels.numpy()[np.arange(batch), real.sum(1) - 1]  # each label row ends with end
        assert (ends == tokenizer.end_id).all()
        pairs += batch
    assert lengths == sorted(lengths) and len(set(lengths)) > 1  # shortest bucket first
    assert 400 - 16 * len(bucket_lengths(12)) < pairs <= 400
    # A detokenized source is the original sentence (lossless tokenizer, end id dropped).
    first = next(iter(dataset))[0]["encoder_token_ids"]
    text = tokenizer.detokenize(first[:1])[0].numpy().decode()
    assert text in sources


def test_shuffled_repeated_dataset_is_reproducible(corpus):
    _, splits, tokenizer = corpus

    def first_batches(seed):
        dataset = make_translation_dataset(
            *splits["train"], tokenizer, tokenizer, 12, 8, seed, True
        )
        return [labels.numpy().tolist() for _, labels, _ in dataset.take(5)]

    assert first_batches(1) == first_batches(1) != first_batches(2)


def test_every_iterator_of_the_training_stream_sees_the_same_batches(corpus):
    """Past the end of the first epoch too: a resumed run's `skip()` (and Keras' peek
    iterator before it) must not move the order of later epochs."""
    _, splits, tokenizer = corpus
    dataset = make_translation_dataset(*splits["train"], tokenizer, tokenizer, 12, 8, 1, True)
    one_epoch = sum(
        1 for _ in make_translation_dataset(*splits["train"], tokenizer, tokenizer, 12, 8)
    )
    next(iter(dataset))
    first, second = (
        [labels.numpy().tolist() for _, labels, _ in dataset.take(3 * one_epoch)] for _ in "ab"
    )
    assert first == second


def test_missing_file_and_misaligned_files_name_the_path(corpus, tmp_path):
    folder, _, _ = corpus
    with pytest.raises(FileNotFoundError, match="test_2016_flickr.fr"):
        split_files(folder, "test", "en", "fr")
    source = tmp_path / "train.en.gz"
    target = tmp_path / "train.de"
    with gzip.open(source, "wt", encoding="utf-8") as f:
        f.write("one\ntwo\nthree\n")
    target.write_text("eins\nzwei\n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"{source} has 3 lines but {target} has 2 lines"):
        read_parallel(*split_files(str(tmp_path), "train", "en", "de"))
    assert os.path.exists(target)


def test_translation_vocabularies_are_trained_reused_or_copied(corpus, tmp_path):
    _, splits, _ = corpus
    run = tmp_path / "run"
    run.mkdir()
    shared = ensure_translation_vocabularies(str(run), *splits["train"], "bpe", True, 340)
    assert shared == (str(run / "spm_bpe.model"),) * 2
    before = os.path.getmtime(shared[0])
    assert ensure_translation_vocabularies(str(run), *splits["train"], "bpe", True, 340) == shared
    assert os.path.getmtime(shared[0]) == before  # re-used, not retrained
    other = tmp_path / "other"
    other.mkdir()
    source, target = ensure_translation_vocabularies(
        str(other), *splits["train"], "bpe", False, 300, ("en", "de"), vocabulary=shared[0]
    )
    assert source == str(other / "spm_bpe.en.model") and target == str(other / "spm_bpe.de.model")
    assert open(source, "rb").read() == open(shared[0], "rb").read()  # copied in
    assert open(target, "rb").read() != open(source, "rb").read()  # trained on German only
    with pytest.raises(ValueError, match="SentencePiece"):
        ensure_translation_vocabularies(str(run), *splits["train"], "wordpiece")

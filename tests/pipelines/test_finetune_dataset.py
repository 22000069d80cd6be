"""Fine-tuning training streams: every iterator sees the same batches, epoch after epoch,
so a run resumed with `skip()` trains on the batches the unbroken run would have."""

import numpy as np
import pytest
import tensorflow as tf

from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer
from pipelines.finetune_dataset import make_embed_dataset, make_finetune_dataset, make_ner_dataset
from pipelines.task_files import LabeledTexts, TaggedSentences

WORDS = ["the", "cat", "dog", "sat", "on", "a", "mat", "good", "bad", "day"]
VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]


def _texts(n: int) -> list[str]:
    rng = np.random.default_rng(0)
    return [" ".join(rng.choice(WORDS, rng.integers(2, 9))) for _ in range(n)]


@pytest.mark.parametrize("kind", ["classify", "embed", "ner"])
def test_every_iterator_of_a_fine_tuning_stream_sees_the_same_batches(kind):
    """Keras' fit peeks with an iterator of its own first; a reshuffling shuffle (and the
    length buckets' shuffle) drew new seeds for each iterator, so a resumed run saw
    other batches after its first epoch. 40 examples in batches of 4: 30 batches span 3
    epochs, which must still differ in order from each other."""
    tf.random.set_seed(1)
    tokenizer = WordPieceTokenizer(VOCABULARY)
    texts = _texts(40)
    if kind == "classify":
        data = LabeledTexts(texts, None, ["pos" if i % 2 else "neg" for i in range(40)])
        dataset = make_finetune_dataset(data, tokenizer, 16, 4, ["neg", "pos"], True, seed=5)
    elif kind == "embed":
        data = LabeledTexts(texts, texts[::-1], [float(i % 5) for i in range(40)])
        dataset = make_embed_dataset(data, tokenizer, 16, 4, 5.0, True, seed=5)
    else:
        words = [t.split() for t in texts]
        data = TaggedSentences(words, [["O"] * len(w) for w in words])
        dataset = make_ner_dataset(data, tokenizer, 16, 4, ["O"], True, seed=5)

    def stream():
        batches = [tf.nest.flatten(b) for b in dataset.take(30)]
        return [np.concatenate([t.numpy().ravel() for t in b]) for b in batches]

    next(iter(dataset))  # the peek
    first, second = stream(), stream()
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    epochs = [np.concatenate(first[i : i + 10]) for i in (0, 10, 20)]
    assert not np.array_equal(epochs[0], epochs[1]) or not np.array_equal(epochs[1], epochs[2])

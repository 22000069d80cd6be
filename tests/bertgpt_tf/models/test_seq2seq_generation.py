"""Greedy and beam search: beam 1 is greedy, a wider beam never finds a less likely
translation, and a model overfit on a copy task decodes every target exactly."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from bertgpt_tf.models.seq2seq_generation import beam_search, greedy_search
from bertgpt_tf.models.seq2seq_transformer import Seq2SeqTransformer
from bertgpt_tf.tasks.translator import Translator

PAD, END = 0, 2
SIZES = dict(num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64)


def _random_model(vocabulary=40):
    keras.utils.set_random_seed(3)
    model = Seq2SeqTransformer(vocabulary, max_sequence_length=16, **SIZES)
    # At initialisation the tied embeddings make every step repeat its input token.
    # Larger feed-forward and cross-attention kernels make the next token depend on the
    # source and the prefix, so greedy and beam search have something to disagree on.
    for layer in model.decoder_layers:
        for weight in layer.weights:
            if "kernel" in weight.path and ("feedforward" in weight.path or "cross" in weight.path):
                weight.assign(weight * 5.0)
    return model


def _sources(batch=6, length=7, vocabulary=40, seed=0):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(2, length + 1, batch)
    ids = rng.integers(3, vocabulary, (batch, length)).astype("int32")
    mask = (np.arange(length)[None] < lengths[:, None]).astype("int32")
    ids = np.where(np.arange(length)[None] == lengths[:, None] - 1, END, ids) * mask
    return ids, mask


def _log_prob(model, source, mask, target) -> float:
    """Teacher-forced log p(target | source) up to and including the first END."""
    target = list(target)
    n = target.index(END) + 1 if END in target else len(target)
    decoder = np.array([[END] + target[: n - 1]], "int32")
    logits = model(
        {"encoder_token_ids": source[None], "encoder_padding_mask": mask[None],
         "decoder_token_ids": decoder, "decoder_padding_mask": np.ones_like(decoder)}
    )["logits"]  # fmt: skip
    log_probs = tf.nn.log_softmax(logits)[0].numpy()
    return float(sum(log_probs[i, target[i]] for i in range(n)))


@pytest.mark.parametrize("end_id", [END, -1])  # -1: no row ever stops early
def test_beam_size_one_equals_greedy(end_id):
    model = _random_model()
    source, mask = _sources()
    greedy = tf.function(lambda s, m: greedy_search(model, s, m, 10, END, end_id))(source, mask)
    beam = tf.function(lambda s, m: beam_search(model, s, m, 10, END, end_id, beam_size=1))(
        source, mask
    )
    np.testing.assert_array_equal(beam, greedy)
    assert greedy.shape == (6, 10)


def test_wider_beam_is_at_least_as_likely_as_greedy():
    """With no length penalty beam search maximises log p, so its result is never less
    likely than greedy's, and on this random model it is more likely for some rows."""
    model = _random_model()
    source, mask = _sources()
    greedy = greedy_search(model, source, mask, 8, END, END).numpy()
    beam = beam_search(model, source, mask, 8, END, END, beam_size=4, alpha=0.0).numpy()
    gains = [
        _log_prob(model, s, m, b) - _log_prob(model, s, m, g)
        for s, m, b, g in zip(source, mask, beam, greedy, strict=True)
    ]
    assert min(gains) > -1e-4 and max(gains) > 1e-3, gains
    for row in beam:  # after the end token: padding only
        if END in row:
            assert (row[list(row).index(END) + 1 :] == PAD).all()


def _copy_task(num_examples=48, length=6, vocabulary=12, seed=0):
    """Sources: 2-5 random tokens + END; targets: the same tokens reversed."""
    rng = np.random.default_rng(seed)
    pairs = set()
    while len(pairs) < num_examples:
        pairs.add(tuple(rng.integers(3, vocabulary, rng.integers(2, length))))
    examples = {k: np.zeros((num_examples, length + 1), "int32") for k in ("src", "dec", "lab")}
    for i, tokens in enumerate(sorted(pairs)):
        n = len(tokens)
        examples["src"][i, : n + 1] = [*tokens, END]
        examples["dec"][i, : n + 1] = [END, *tokens[::-1]]
        examples["lab"][i, : n + 1] = [*tokens[::-1], END]
    return examples


def test_overfit_reverse_copy_task_decodes_exactly():
    keras.utils.set_random_seed(0)
    data = _copy_task()
    inputs = {
        "encoder_token_ids": data["src"],
        "encoder_padding_mask": (data["src"] > 0).astype("int32"),
        "decoder_token_ids": data["dec"],
        "decoder_padding_mask": (data["lab"] > 0).astype("int32"),
    }
    model = Translator(Seq2SeqTransformer(12, max_sequence_length=8, **SIZES), 0.0)
    model.compile(keras.optimizers.Adam(3e-3))
    weights = (data["lab"] > 0).astype("float32")
    model.fit(inputs, data["lab"], sample_weight=weights, batch_size=48, epochs=150, verbose=0)
    source, mask = inputs["encoder_token_ids"], inputs["encoder_padding_mask"]
    for decoded in (
        greedy_search(model.backbone, source, mask, 7, END, END),
        beam_search(model.backbone, source, mask, 7, END, END, beam_size=3),
    ):
        np.testing.assert_array_equal(decoded, data["lab"])

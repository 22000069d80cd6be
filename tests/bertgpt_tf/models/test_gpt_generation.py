import numpy as np
import pytest
import tensorflow as tf

from bertgpt_tf.models.gpt_decoder import GPTDecoder
from bertgpt_tf.models.gpt_generation import filter_logits, generate

CONFIG = dict(
    vocabulary_size=50, num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64,
    max_sequence_length=32,
)  # fmt: skip
PROMPTS = [[5, 9, 2, 7, 11], [3, 8], [4, 4, 6]]


@pytest.fixture(scope="module")
def decoder():
    return GPTDecoder(**CONFIG)


@pytest.fixture(scope="module")
def rope_decoder():
    return GPTDecoder(**CONFIG, position="rope", ffn="swiglu")


def _pad(prompts, side="right", pad_id=0):
    width = max(len(p) for p in prompts)
    rows = [
        list(p) + [pad_id] * (width - len(p))
        if side == "right"
        else [pad_id] * (width - len(p)) + list(p)
        for p in prompts
    ]
    return np.array(rows, "int32"), np.array([len(p) for p in prompts], "int32")


def _greedy_by_full_passes(decoder, prompt, steps):
    ids = list(prompt)
    for _ in range(steps):
        x = np.array([ids], "int32")
        logits = decoder({"token_ids": x, "padding_mask": np.ones_like(x)})["logits"]
        ids.append(int(np.argmax(logits[0, -1])))
    return ids


def _row(out, i, length):
    """Right-padded row i: its prompt followed by its new tokens."""
    count = int(out["num_new_tokens"][i])
    return out["token_ids"][i, : length + count].numpy().tolist()


@pytest.mark.parametrize("which", ["decoder", "rope_decoder"])
def test_greedy_equals_argmax_of_full_forward_passes(which, request):
    decoder = request.getfixturevalue(which)
    out = generate(decoder, [PROMPTS[0]], [5], max_new_tokens=6)
    assert out["token_ids"].shape == (1, 11)
    assert out["num_new_tokens"].numpy().tolist() == [6]
    assert _row(out, 0, 5) == _greedy_by_full_passes(decoder, PROMPTS[0], 6)


@pytest.mark.parametrize("which", ["decoder", "rope_decoder"])
@pytest.mark.parametrize("side", ["right", "left"])
def test_batched_prompts_of_different_lengths_match_single_prompts(which, side, request):
    decoder = request.getfixturevalue(which)
    token_ids, lengths = _pad(PROMPTS, side)
    out = generate(decoder, token_ids, lengths, max_new_tokens=5, padding_side=side)
    assert out["token_ids"].shape == (3, 10)
    for i, prompt in enumerate(PROMPTS):
        alone = generate(decoder, [prompt], [len(prompt)], max_new_tokens=5)
        expected = alone["token_ids"][0].numpy().tolist()  # (len(prompt) + 5,)
        row = out["token_ids"][i].numpy().tolist()
        pad = 5 - len(prompt)  # batch width 5 + 5 new = 10 slots
        assert row == (expected + [0] * pad if side == "right" else [0] * pad + expected)


def test_top_k_1_equals_greedy(decoder):
    token_ids, lengths = _pad(PROMPTS)
    greedy = generate(decoder, token_ids, lengths, max_new_tokens=5)
    top1 = generate(decoder, token_ids, lengths, max_new_tokens=5, temperature=1.0, top_k=1, seed=3)
    np.testing.assert_array_equal(greedy["token_ids"], top1["token_ids"])


def test_sampling_is_deterministic_given_the_seed(decoder):
    token_ids, lengths = _pad(PROMPTS)

    def sample(seed, **kwargs):
        out = generate(decoder, token_ids, lengths, 8, temperature=1.0, seed=seed, **kwargs)
        return out["token_ids"].numpy()

    np.testing.assert_array_equal(sample(1), sample(1))
    assert not np.array_equal(sample(1), sample(2))
    np.testing.assert_array_equal(sample(1, top_p=0.9, top_k=10), sample(1, top_p=0.9, top_k=10))
    assert not np.array_equal(sample(1), sample(1, top_k=3))


def test_filter_logits_top_k_and_top_p():
    logits = tf.math.log([[0.5, 0.05, 0.3, 0.15]])
    kept = lambda **kw: np.isfinite(filter_logits(logits, **kw).numpy()[0]).tolist()  # noqa: E731
    assert kept() == [True] * 4
    assert kept(top_k=2) == [True, False, True, False]
    assert kept(top_p=0.75) == [True, False, True, False]  # 0.5 < 0.75 <= 0.8
    assert kept(top_p=0.8) == [True, False, True, False]
    assert kept(top_p=0.81) == [True, False, True, True]
    assert kept(top_p=0.1) == [True, False, False, False]  # the best token always stays
    assert kept(top_k=3, top_p=0.99) == [True, False, True, True]


def test_end_id_stops_a_row_and_counts_are_right(decoder):
    token_ids, lengths = _pad(PROMPTS)
    free = generate(decoder, token_ids, lengths, max_new_tokens=6)
    end_id = int(free["token_ids"][1, 2 + 2])  # row 1's third new token
    first_new = [list(_row(free, i, n)[n:]) for i, n in enumerate(lengths)]
    out = generate(decoder, token_ids, lengths, max_new_tokens=6, end_id=end_id, pad_id=49)
    for i, n in enumerate(lengths):
        new = first_new[i]
        count = new.index(end_id) + 1 if end_id in new else 6
        assert int(out["num_new_tokens"][i]) == count
        row = out["token_ids"][i].numpy().tolist()
        assert row[: n + count] == list(PROMPTS[i]) + new[:count]
        assert row[n + count :] == [49] * (5 + 6 - n - count)
    assert int(out["num_new_tokens"][1]) <= 3


def test_generation_compiles_with_xla(rope_decoder):
    token_ids, lengths = _pad(PROMPTS)

    @tf.function(jit_compile=True)
    def compiled(token_ids, lengths, temperature, seed):
        return generate(
            rope_decoder, token_ids, lengths, 5, temperature=temperature, top_p=0.9, seed=seed
        )

    eager = generate(rope_decoder, token_ids, lengths, 5)
    xla = compiled(token_ids, lengths, tf.constant(0.0), tf.constant(0))
    np.testing.assert_array_equal(eager["token_ids"], xla["token_ids"])
    np.testing.assert_array_equal(eager["num_new_tokens"], xla["num_new_tokens"])
    sampled = generate(rope_decoder, token_ids, lengths, 5, temperature=1.0, top_p=0.9, seed=4)
    xla_sampled = compiled(token_ids, lengths, tf.constant(1.0), tf.constant(4))
    np.testing.assert_array_equal(sampled["token_ids"], xla_sampled["token_ids"])


def test_generation_traces_with_unknown_shapes(decoder):
    """As a SavedModel signature does: batch and prompt length unknown at trace time."""

    @tf.function(
        input_signature=[
            tf.TensorSpec((None, None), tf.int32),
            tf.TensorSpec((None,), tf.int32),
        ]
    )
    def serve(token_ids, lengths):
        return generate(decoder, token_ids, lengths, max_new_tokens=4)

    token_ids, lengths = _pad(PROMPTS)
    np.testing.assert_array_equal(
        serve(token_ids, lengths)["token_ids"],
        generate(decoder, token_ids, lengths, max_new_tokens=4)["token_ids"],
    )

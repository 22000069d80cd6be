import tensorflow as tf

from bertgpt_tf.tokenizers.segment_packer import pack_segments, trim_pair


def _trim(first, second, budget):
    a, b = trim_pair(tf.ragged.constant(first), tf.ragged.constant(second), budget)
    return a.to_list(), b.to_list()


def test_trim_pair_round_robin_budget():
    first = [list(range(10)), [1, 2], list(range(10))]
    second = [[7, 8], list(range(20, 30)), list(range(20, 30))]
    a, b = _trim(first, second, 6)
    # a long first cedes nothing to a short second and vice versa; both long: 3 + 3.
    assert a == [[6, 7, 8, 9], [1, 2], [7, 8, 9]]  # first keeps its last tokens
    assert b == [[7, 8], [20, 21, 22, 23], [20, 21, 22]]  # second keeps its first tokens
    assert _trim([[1, 2, 3]], [[4, 5, 6]], 5) == ([[1, 2, 3][-3:]], [[4, 5]])


def test_trim_and_pack_inside_dataset_map_matches_eager():
    first = tf.ragged.constant([[5, 6, 7, 8], [9]], dtype=tf.int32)
    second = tf.ragged.constant([[10], [11, 12, 13, 14, 15]], dtype=tf.int32)

    def step(a, b):
        a, b = trim_pair(a, b, 4)
        return pack_segments([a, b], 2, 3)

    eager = step(first, second)
    in_map = next(iter(tf.data.Dataset.from_tensors((first, second)).map(step)))
    assert (
        eager[0].to_list()
        == in_map[0].to_list()
        == [[2, 6, 7, 8, 3, 10, 3], [2, 9, 3, 11, 12, 13, 3]]
    )
    assert (
        eager[1].to_list() == in_map[1].to_list() == [[0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 1, 1, 1]]
    )


def test_a_batch_of_zero_texts_gives_zero_rows(tiny_tokenizer):
    """Serving shapes (static=False): 0 requests -> (0, 1) inputs, not a negative or
    zero length that the encoder's [CLS] slice rejects; real batches pad to the longest."""
    from bertgpt_tf.tokenizers.segment_packer import encode_texts, encode_words

    empty = encode_texts(tiny_tokenizer, tf.constant([], tf.string), None, 16, static=False)
    assert {k: tuple(v.shape) for k, v in empty.items()} == {
        "token_ids": (0, 1), "padding_mask": (0, 1), "segment_ids": (0, 1)
    }  # fmt: skip
    pair = encode_texts(
        tiny_tokenizer, tf.constant([], tf.string), tf.constant([], tf.string), 16, static=False
    )
    assert tuple(pair["token_ids"].shape) == (0, 1)
    words, _ = encode_words(
        tiny_tokenizer, tf.ragged.constant([], tf.string, ragged_rank=1), 16, False
    )
    assert tuple(words["token_ids"].shape) == (0, 1)
    two = encode_texts(tiny_tokenizer, tf.constant(["the fox", "the"]), None, 16, static=False)
    assert two["token_ids"].shape[1] == int(tf.reduce_max(tf.reduce_sum(two["padding_mask"], 1)))

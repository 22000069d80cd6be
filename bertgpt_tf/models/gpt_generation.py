"""KV-cached text generation with a `GPTDecoder`, in pure TF (XLA and SavedModel safe).

`generate` pads every prompt on the left internally, so one prefill call covers the
whole batch and every row then takes the same decoding steps; positions count real
tokens only (see `GPTDecoder`), so each row gets the continuation it would get alone.
The token loop is a `tf.while_loop` that stops early once every row is done.

Example:
>>> decoder = GPTDecoder(vocabulary_size=50, num_layers=1, num_heads=2,
...                      hidden_dim=8, intermediate_dim=16)
>>> out = generate(decoder, [[5, 6, 7], [8, 0, 0]], lengths=[3, 1], max_new_tokens=4)
>>> out["token_ids"].shape, out["num_new_tokens"].numpy()
(TensorShape([2, 7]), array([4, 4], dtype=int32))
"""

import tensorflow as tf
from keras import ops

from bertgpt_tf.models.gpt_decoder import GPTDecoder


def _shift_rows(x: tf.Tensor, shift: tf.Tensor) -> tf.Tensor:
    """Roll each row of x (batch, length) right by shift (batch,), wrapping around."""
    length = tf.shape(x)[1]
    source = tf.math.floormod(tf.range(length)[None, :] - shift[:, None], length)
    return tf.gather(x, source, batch_dims=1)  # (batch, length)


def filter_logits(logits: tf.Tensor, top_k=0, top_p=1.0) -> tf.Tensor:
    """Set logits outside the top-k, then outside the top-p nucleus, to -inf.

    `top_k <= 0` and `top_p >= 1` disable each filter. The nucleus is the smallest set
    of most likely tokens (among the top k) whose probability reaches `top_p`; the most
    likely token is always kept. Ties at the threshold are kept.
    """
    vocabulary_size = tf.shape(logits)[-1]
    sorted_logits = tf.sort(logits, axis=-1, direction="DESCENDING")  # (batch, vocab)
    rank = tf.range(vocabulary_size)[None, :]  # (1, vocab)
    top_k = tf.cast(top_k, tf.int32)
    k = tf.where(top_k > 0, tf.minimum(top_k, vocabulary_size), vocabulary_size)
    in_top_k = rank < k  # (1, vocab)
    probs = tf.nn.softmax(tf.where(in_top_k, sorted_logits, float("-inf")), axis=-1)
    mass_before = tf.cumsum(probs, axis=-1, exclusive=True)  # (batch, vocab)
    keep = in_top_k & ((mass_before < tf.cast(top_p, tf.float32)) | (rank == 0))
    num_kept = tf.reduce_sum(tf.cast(keep, tf.int32), axis=-1)  # (batch,)
    threshold = tf.gather(sorted_logits, num_kept - 1, batch_dims=1)[:, None]  # (batch, 1)
    return tf.where(logits >= threshold, logits, float("-inf"))


def _stateless_open_uniform(shape, seed) -> tf.Tensor:
    """Uniform floats in (0, 1), the same bits in TF and XLA.

    Built from Philox integers: `stateless_uniform` over floats converts bits to floats
    differently under XLA, so seeded samples would change with `jit_compile`.
    """
    bits = tf.random.stateless_uniform(
        shape, seed, minval=None, maxval=None, dtype=tf.int32, alg="philox"
    )
    bits = tf.bitwise.right_shift(tf.bitcast(bits, tf.uint32), 8)  # 24 random bits
    return (tf.cast(bits, tf.float32) + 0.5) / 2.0**24


def sample_next_token(logits: tf.Tensor, temperature=0.0, top_k=0, top_p=1.0, seed=None):
    """(batch, vocab) logits -> (batch,) int32 ids. Greedy (argmax) when temperature == 0.

    Sampling is the Gumbel-max trick over `filter_logits(logits / temperature)` with
    stateless uniforms, so a given `seed` (shape (2,) int) always draws the same ids,
    with or without XLA.
    """
    logits = tf.cast(logits, tf.float32)
    temperature = tf.cast(temperature, tf.float32)
    greedy = tf.argmax(logits, axis=-1, output_type=tf.int32)
    scaled = filter_logits(logits / tf.maximum(temperature, 1e-6), top_k, top_p)
    gumbel = -tf.math.log(-tf.math.log(_stateless_open_uniform(tf.shape(logits), seed)))
    sampled = tf.argmax(scaled + gumbel, axis=-1, output_type=tf.int32)
    return tf.where(temperature > 0, sampled, greedy)


def _left_padded_prompts(token_ids, lengths, max_new_tokens, pad_id, padding_side):
    """Prompts moved to the right end of their rows, and the padding mask for generation.

    Returns:
        prompts: (batch, prompt_len) int32, `pad_id` then each prompt.
        padding_mask: (batch, prompt_len + max_new_tokens) int32, 0 on the left padding.
        shift: (batch,) int32, the left padding of each row.
    """
    token_ids = tf.cast(token_ids, tf.int32)  # (batch, prompt_len)
    batch_size, prompt_len = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
    shift = prompt_len - tf.cast(lengths, tf.int32)  # (batch,)
    if padding_side == "right":
        token_ids = _shift_rows(token_ids, shift)  # now left-padded
    prompt_mask = tf.range(prompt_len)[None, :] >= shift[:, None]  # (batch, prompt_len)
    prompts = tf.where(prompt_mask, token_ids, pad_id)
    new_slots = tf.ones((batch_size, max_new_tokens), tf.int32)
    padding_mask = tf.concat([tf.cast(prompt_mask, tf.int32), new_slots], axis=1)
    return prompts, padding_mask, shift


def generate(
    decoder: GPTDecoder,
    token_ids,
    lengths,
    max_new_tokens: int,
    temperature=0.0,
    top_k=0,
    top_p=1.0,
    seed=0,
    end_id=-1,
    pad_id=0,
    padding_side: str = "right",
    new_token_limit=None,
) -> dict:
    """Continue each prompt by up to `max_new_tokens` tokens.

    Args:
        decoder: a `GPTDecoder`. With learned positions, `lengths + max_new_tokens` must
            not exceed its `max_sequence_length`.
        token_ids: (batch, prompt_len) int prompts, padded on `padding_side`.
        lengths: (batch,) int real prompt lengths, each >= 1.
        max_new_tokens: Python int (it sizes the output and the cache; XLA needs it
            static).
        temperature: 0 = greedy; > 0 samples from `softmax(logits / temperature)`.
        top_k: keep the k most likely tokens (0 = all).
        top_p: keep the nucleus of this probability mass (1.0 = all).
        seed: int or scalar int tensor; same seed and inputs -> same samples.
        end_id: a row stops after emitting this id (kept, and counted). -1 = never.
        pad_id: written into padding and after a row stops.
        padding_side: "right" or "left", for both the prompts and the result.
        new_token_limit: optional int tensor <= `max_new_tokens`: stop after this many
            new tokens (a serving request's own budget; buffers keep the static size).

    Returns:
        `token_ids`: (batch, prompt_len + max_new_tokens) int32. "right": each row is
        its prompt, its new tokens, then `pad_id`. "left": `pad_id`s, the prompt, the
        new tokens, then `pad_id` for rows that stopped early.
        `num_new_tokens`: (batch,) int32, new tokens per row (including `end_id`).
    """
    if padding_side not in ("right", "left"):
        raise ValueError(f"padding_side must be right|left, got {padding_side!r}")
    prompts, padding_mask, shift = _left_padded_prompts(
        token_ids, lengths, max_new_tokens, pad_id, padding_side
    )
    batch_size, prompt_len = ops.shape(prompts)[0], ops.shape(prompts)[1]
    total_len = prompt_len + max_new_tokens
    # (batch, total_len): the prompts, then a pad_id slot for every new token.
    ids = tf.pad(prompts, [[0, 0], [0, max_new_tokens]], constant_values=pad_id)

    # Prefill: one pass over all prompts; every row's last prompt token is at prompt_len-1.
    cache = decoder.initial_cache(batch_size, total_len)
    logits, _, cache = decoder.call_with_cache(prompts, cache, 0, padding_mask)
    seed = tf.cast(seed, tf.int32)

    def body(step, logits, cache, ids, done, counts):
        next_ids = sample_next_token(logits, temperature, top_k, top_p, tf.stack([seed, step]))
        next_ids = tf.where(done, pad_id, next_ids)  # (batch,)
        index = prompt_len + step
        ids = tf.where(tf.range(total_len)[None, :] == index, next_ids[:, None], ids)
        counts += tf.cast(~done, tf.int32)
        done |= tf.equal(next_ids, end_id)
        logits, _, cache = decoder.call_with_cache(next_ids[:, None], cache, index, padding_mask)
        return step + 1, logits[:, 0], cache, ids, done, counts

    limit = (
        max_new_tokens if new_token_limit is None else tf.minimum(new_token_limit, max_new_tokens)
    )

    def cond(step, logits, cache, ids, done, counts):
        return (step < limit) & ~tf.reduce_all(done)

    _, _, _, ids, _, counts = tf.while_loop(
        cond,
        body,
        (
            tf.constant(0),
            logits[:, -1],  # (batch, vocab) next-token logits
            cache,
            ids,
            tf.zeros((batch_size,), tf.bool),
            tf.zeros((batch_size,), tf.int32),
        ),
    )
    if padding_side == "right":
        ids = _shift_rows(ids, -shift)  # prompt, new tokens, then padding
    return {"token_ids": ids, "num_new_tokens": counts}

"""Greedy and beam-search decoding of a `Seq2SeqTransformer`, in pure TF (SavedModel safe).

Both encode the source once, fill the cross-attention cache with the first decoder call
(the start token at slot 0), then run a `tf.while_loop` of one cached decoder call per
target token that stops early once every row (every beam) has emitted `end_id`. Shapes
are static apart from the batch: `max_length` sizes the output and the caches.

Example:
>>> import numpy as np
>>> model = Seq2SeqTransformer(vocabulary_size=20, num_layers=1, num_heads=2,
...                            hidden_dim=8, intermediate_dim=16)
>>> source = np.array([[5, 6, 2], [7, 2, 0]], "int32")
>>> mask = (source > 0).astype("int32")
>>> greedy_search(model, source, mask, max_length=4, start_id=2, end_id=2).shape
TensorShape([2, 4])
>>> beam_search(model, source, mask, 4, start_id=2, end_id=2, beam_size=3).shape
TensorShape([2, 4])
"""

import tensorflow as tf

from bertgpt_tf.models.seq2seq_transformer import Seq2SeqTransformer

NEG_INF = -1e9


def _same_shapes(old: tuple, new: tuple) -> tuple:
    """Loop variables keep their static shapes (reshapes by a batch tensor lose them)."""
    for before, after in zip(old, new, strict=True):
        after.set_shape(before.shape)
    return new


def _prefill(
    model: Seq2SeqTransformer, encoder_token_ids, encoder_padding_mask, max_length, start_id
):
    """Encodes the source and decodes the start token: (next-token logits, caches)."""
    encoder_token_ids = tf.cast(encoder_token_ids, tf.int32)
    encoder_padding_mask = tf.cast(encoder_padding_mask, tf.int32)
    batch_size, source_length = tf.shape(encoder_token_ids)[0], tf.shape(encoder_token_ids)[1]
    encoder_output = model.encode(encoder_token_ids, encoder_padding_mask)  # (batch, src, hidden)
    # One slot more than max_length: the loop also decodes the token it writes last.
    self_cache = model.initial_cache(batch_size, max_length + 1)
    cross_cache = model.initial_cache(batch_size, source_length)
    start = tf.fill([batch_size, 1], start_id)
    logits, self_cache, cross_cache = model.call_decoder_with_cache(
        start, encoder_output, encoder_padding_mask, self_cache, 0, cross_cache, 0
    )
    return logits[:, 0], encoder_output, encoder_padding_mask, self_cache, cross_cache


def greedy_search(
    model: Seq2SeqTransformer,
    encoder_token_ids,
    encoder_padding_mask,
    max_length: int,
    start_id: int,
    end_id: int,
    pad_id: int = 0,
) -> tf.Tensor:
    """Most likely next token at each step.

    Args:
        model: a `Seq2SeqTransformer`.
        encoder_token_ids: (batch, source) int source tokens (ending with `end_id`).
        encoder_padding_mask: (batch, source) 1 = real token.
        max_length: Python int, the most target tokens (end token included).
        start_id: the decoder's first input token (training prepends it to targets).
        end_id: a row stops after emitting it (kept in the output).
        pad_id: written after a row stops.

    Returns:
        (batch, max_length) int32 target tokens.
    """
    logits, encoder_output, mask, self_cache, cross_cache = _prefill(
        model, encoder_token_ids, encoder_padding_mask, max_length, start_id
    )
    batch_size = tf.shape(logits)[0]

    def body(step, logits, self_cache, ids, done):
        next_ids = tf.argmax(logits, axis=-1, output_type=tf.int32)  # (batch,)
        next_ids = tf.where(done, pad_id, next_ids)
        ids = tf.where(tf.range(max_length)[None, :] == step, next_ids[:, None], ids)
        done |= tf.equal(next_ids, end_id)
        logits, self_cache, _ = model.call_decoder_with_cache(
            next_ids[:, None], encoder_output, mask, self_cache, step + 1, cross_cache
        )
        return step + 1, logits[:, 0], self_cache, ids, done

    def cond(step, logits, self_cache, ids, done):
        return (step < max_length) & ~tf.reduce_all(done)

    initial = (
        tf.constant(0),
        logits,  # (batch, vocab)
        self_cache,
        tf.fill([batch_size, max_length], pad_id),
        tf.zeros([batch_size], tf.bool),
    )
    return tf.while_loop(cond, body, initial)[3]


def length_penalty(lengths, alpha):
    """GNMT's ((5 + length) / 6) ** alpha (Wu et al., 2016); alpha = 0 -> 1."""
    return tf.pow((5.0 + tf.cast(lengths, tf.float32)) / 6.0, tf.cast(alpha, tf.float32))


def beam_search(
    model: Seq2SeqTransformer,
    encoder_token_ids,
    encoder_padding_mask,
    max_length: int,
    start_id: int,
    end_id: int,
    beam_size: int = 4,
    alpha=0.6,
    pad_id: int = 0,
) -> tf.Tensor:
    """Beam search ranked by length-normalized log-probability.

    Each step extends every live beam by every token, keeps a finished beam as it is
    (its only continuation is `pad_id` at no cost), and keeps the `beam_size` candidates
    with the best `log p / length_penalty(length, alpha)` (length counts the end token).
    The output is the best beam by that score. With `beam_size=1` this is greedy search.

    Args:
        model, encoder_token_ids, encoder_padding_mask, max_length, start_id, end_id,
            pad_id: as in `greedy_search`.
        beam_size: Python int, beams per source.
        alpha: length-penalty exponent (0: raw log-probability).

    Returns:
        (batch, max_length) int32 target tokens.
    """
    batch_size = tf.shape(encoder_token_ids)[0]
    k = beam_size

    def tile(x):  # (batch, ...) -> (batch * k, ...), beams of a row adjacent
        return tf.repeat(x, k, axis=0)

    logits, encoder_output, mask, self_cache, cross_cache = _prefill(
        model, tile(encoder_token_ids), tile(encoder_padding_mask), max_length, start_id
    )
    vocabulary_size = tf.shape(logits)[-1]

    def body(*state):
        return _same_shapes(state, _beam_step(*state))

    def _beam_step(step, logits, self_cache, ids, scores, lengths, done):
        log_probs = tf.nn.log_softmax(tf.cast(logits, tf.float32))  # (batch * k, vocab)
        log_probs = tf.reshape(log_probs, [batch_size, k, vocabulary_size])
        only_pad = tf.where(tf.range(vocabulary_size) == pad_id, 0.0, NEG_INF)  # (vocab,)
        log_probs = tf.where(done[..., None], only_pad, log_probs)
        candidates = scores[..., None] + log_probs  # (batch, k, vocab)
        candidate_lengths = lengths + tf.cast(~done, tf.int32)  # (batch, k)
        ranked = candidates / length_penalty(candidate_lengths, alpha)[..., None]
        _, best = tf.math.top_k(tf.reshape(ranked, [batch_size, -1]), k)  # (batch, k)
        beams, tokens = best // vocabulary_size, best % vocabulary_size  # (batch, k) each
        scores = tf.gather(tf.reshape(candidates, [batch_size, -1]), best, batch_dims=1)
        lengths = tf.gather(candidate_lengths, beams, batch_dims=1)
        done = tf.gather(done, beams, batch_dims=1) | tf.equal(tokens, end_id)
        ids = tf.gather(ids, beams, batch_dims=1)  # (batch, k, max_length)
        ids = tf.where(tf.range(max_length) == step, tokens[..., None], ids)
        # Reorder the self-attention cache with its beams: (batch * k, layers, 2, ...).
        cache_shape = tf.shape(self_cache)
        self_cache = tf.reshape(self_cache, tf.concat([[batch_size, k], cache_shape[1:]], 0))
        self_cache = tf.reshape(tf.gather(self_cache, beams, batch_dims=1), cache_shape)
        logits, self_cache, _ = model.call_decoder_with_cache(
            tf.reshape(tokens, [-1, 1]), encoder_output, mask, self_cache, step + 1, cross_cache
        )
        return step + 1, logits[:, 0], self_cache, ids, scores, lengths, done

    def cond(step, logits, self_cache, ids, scores, lengths, done):
        return (step < max_length) & ~tf.reduce_all(done)

    # Only beam 0 is live at first (all beams start identical).
    first = tf.one_hot(0, k, on_value=0.0, off_value=NEG_INF)  # (k,)
    initial = (
        tf.constant(0),
        logits,  # (batch * k, vocab)
        self_cache,
        tf.fill([batch_size, k, max_length], pad_id),
        tf.tile(first[None], [batch_size, 1]),  # (batch, k) summed log-probabilities
        tf.zeros([batch_size, k], tf.int32),  # tokens so far, end included
        tf.zeros([batch_size, k], tf.bool),
    )
    _, _, _, ids, scores, lengths, _ = tf.while_loop(cond, body, initial)
    best = tf.argmax(scores / length_penalty(lengths, alpha), axis=-1, output_type=tf.int32)
    return tf.gather(ids, best, batch_dims=1)  # (batch, max_length)

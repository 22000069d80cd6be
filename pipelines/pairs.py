"""Sentence-pair objectives: NSP (BERT), SOP (ALBERT), on rows filled like BERT's.

BERT's create_pretraining_data.py fills each row: segment A is as many consecutive
sentences of a document as fit, B their actual continuation. Here the unit is the
paragraph (one corpus line):

- `document_chunks`: one file's paragraphs -> chunks of consecutive paragraphs of one
  document, grown until they hold `max_tokens` tokens (and at least two paragraphs),
  never across a document boundary. A document's last chunk may be shorter; a chunk of
  one paragraph (a document of one paragraph, or the last paragraph left over after a
  full chunk) has no pair and is dropped.
- `split_chunks`: each chunk of a batch cut at a random paragraph boundary into A and B
  (its continuation).
- `make_segment_pairs`, on (batch, tokens) ragged segments:
  - nsp: with probability 1/2, B is replaced by the chunk of another row of the batch
    (shuffled stream; the B slot keeps its first tokens, so the row stays full); label
    1 = "not next". A row whose replacement comes from the same document keeps its real
    continuation (label 0), so labels are always true.
  - sop: with probability 1/2, A and B are swapped; label 1 = "swapped".

`trim_pair` then cuts A (keeping its last tokens) and B (its first) to the row.
"""

import tensorflow as tf

PAIR_OBJECTIVES = ("nsp", "sop")
_TOKENIZE_BATCH = 256


def document_chunks(paragraphs: tf.data.Dataset, tokenizer, max_tokens: int) -> tf.data.Dataset:
    """One file's paragraph dicts (`pipelines.sources`, documents one after another) ->
    dicts of `tokens` (int32 token ids of the chunk), `paragraph_lengths` (int32 token
    count of each of its >= 2 paragraphs) and `document`."""

    def tokenize(batch):
        return {
            "tokens": tf.cast(tokenizer.tokenize(batch["text"]), tf.int32),
            "document": batch["document"],
        }

    tokenized = (
        paragraphs.batch(_TOKENIZE_BATCH)
        .map(tokenize, num_parallel_calls=tf.data.AUTOTUNE)
        .unbatch()
        .map(lambda e: {"tokens": tf.reshape(e["tokens"], [-1]), "document": e["document"]})
        .filter(lambda e: tf.size(e["tokens"]) > 0)  # nothing left after normalization
    )
    # A last element of no document ends the file's last chunk.
    end = {"tokens": tf.zeros([0], tf.int32), "document": tf.constant("")}
    tokenized = tokenized.concatenate(tf.data.Dataset.from_tensors(end))

    def step(state, paragraph):
        tokens, lengths, document = state
        same = tf.equal(paragraph["document"], document)
        # the chunk so far, with this paragraph; or this paragraph alone in a new document
        grown_tokens = tf.concat(
            [tokens[: tf.where(same, tf.size(tokens), 0)], paragraph["tokens"]], 0
        )
        grown_lengths = tf.concat(
            [lengths[: tf.where(same, tf.size(lengths), 0)], tf.size(paragraph["tokens"])[None]], 0
        )
        full = (tf.reduce_sum(grown_lengths) >= max_tokens) & (tf.size(grown_lengths) >= 2)
        # A new document ends the chunk so far; a full chunk ends with this paragraph.
        chunk_tokens, chunk_lengths, chunk_document = tf.cond(
            same,
            lambda: (grown_tokens, grown_lengths, paragraph["document"]),
            lambda: (tokens, lengths, document),
        )
        emit = tf.where(same, full, tf.size(lengths) >= 2)
        keep_tokens = tf.where(full, 0, tf.size(grown_tokens))
        keep_lengths = tf.where(full, 0, tf.size(grown_lengths))
        next_state = (
            grown_tokens[:keep_tokens],
            grown_lengths[:keep_lengths],
            paragraph["document"],
        )
        chunk = {
            "tokens": chunk_tokens,
            "paragraph_lengths": chunk_lengths,
            "document": chunk_document,
            "emit": emit,
        }
        return next_state, chunk

    initial = (tf.zeros([0], tf.int32), tf.zeros([0], tf.int32), tf.constant(""))
    chunks = tokenized.scan(initial, step).filter(lambda c: c["emit"])
    return chunks.map(lambda c: {k: v for k, v in c.items() if k != "emit"})


def split_chunks(
    tokens: tf.RaggedTensor, paragraph_lengths: tf.RaggedTensor, seed: int | None = None
) -> tuple[tf.RaggedTensor, tf.RaggedTensor]:
    """(A, B): each row of `tokens` cut at one of the boundaries between its paragraphs
    (>= 2 of them, token counts in `paragraph_lengths`), chosen uniformly: A and B each
    hold at least one whole paragraph."""
    count = paragraph_lengths.row_lengths()
    draw = tf.random.uniform(tf.shape(count), seed=seed)
    cut = tf.minimum(1 + tf.cast(draw * tf.cast(count - 1, tf.float32), tf.int64), count - 1)
    before_cut = tf.ragged.range(count) < cut[:, None]
    offset = tf.reduce_sum(tf.ragged.boolean_mask(paragraph_lengths, before_cut), axis=1)
    positions = tf.ragged.range(tokens.row_lengths())
    offset = tf.cast(offset, positions.dtype)[:, None]
    return (
        tf.ragged.boolean_mask(tokens, positions < offset),
        tf.ragged.boolean_mask(tokens, positions >= offset),
    )


def make_segment_pairs(
    first: tf.RaggedTensor,
    second: tf.RaggedTensor,
    chunk: tf.RaggedTensor,
    document: tf.Tensor,
    pair_objective: str,
    swap_rate: float = 0.5,
    seed: int | None = None,
) -> tuple[tf.RaggedTensor, tf.RaggedTensor, tf.Tensor]:
    """(A, B, label) of each row: `first`/`second` are its segments, `chunk` (the text a
    row lends its neighbour as a "not next" B) and `document` (batch,) its source."""
    if pair_objective not in PAIR_OBJECTIVES:
        raise ValueError(f"pair_objective must be one of {PAIR_OBJECTIVES}, got {pair_objective!r}")
    coin = tf.random.uniform(tf.shape(document), seed=seed) < swap_rate
    if pair_objective == "nsp":
        neighbour = tf.roll(tf.range(tf.shape(document)[0]), 1, axis=0)
        replaced = coin & tf.not_equal(tf.gather(document, neighbour), document)
        return (
            first,
            _select(replaced, tf.gather(chunk, neighbour), second),
            tf.cast(replaced, tf.int32),
        )
    return _select(coin, second, first), _select(coin, first, second), tf.cast(coin, tf.int32)


def _select(condition: tf.Tensor, x: tf.RaggedTensor, y: tf.RaggedTensor) -> tf.RaggedTensor:
    """Row i of `x` where `condition[i]`, else of `y` (`tf.where` for ragged rows)."""
    rows = tf.range(tf.shape(condition)[0])
    return tf.gather(tf.concat([y, x], axis=0), tf.where(condition, rows + tf.shape(rows)[0], rows))

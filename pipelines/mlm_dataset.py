"""The MLM pretraining input pipeline: raw text files -> masked, packed batches.

    nsp/sop: files -> paragraphs (document-tagged) -> WordPiece (TF-Text) -> chunks of
      one document's paragraphs (pipelines.pairs) -> shuffle -> A|B split, NSP/SOP ->
      trim -> [CLS] A [SEP] B [SEP] -> mask -> dense
    none: files -> paragraphs -> WordPiece -> windows across paragraphs -> shuffle ->
      [CLS] window [SEP] -> mask -> dense

Every step runs inside the tf.data graph. Shapes are static — (batch_size,
sequence_length) and (batch_size, max_predictions_per_seq) — so XLA can compile the
step. Elements are `(x, y, sample_weight)` dicts keyed like the model's inputs/outputs.

Maps that draw random numbers (splitting, pairing, masking) run with `num_parallel_calls=None`:
parallel calls would draw from the shared RNG in a racy order, and a resumed run must
see exactly the masks an uninterrupted run would have.
"""

import functools

import tensorflow as tf

from bertgpt_tf.tokenizers.segment_packer import pack_segments, to_dense, trim_pair
from pipelines.mask import mask_tokens
from pipelines.pack import pack_windows, token_stream
from pipelines.pairs import document_chunks, make_segment_pairs, split_chunks
from pipelines.sanitize import LineStats
from pipelines.sources import read_paragraphs

AUTOTUNE = tf.data.AUTOTUNE


def make_mlm_dataset(
    files: list[str],
    tokenizer,
    batch_size: int,
    sequence_length: int = 128,
    max_predictions_per_seq: int = 20,
    mask_rate: float = 0.15,
    pair_objective: str = "nsp",
    whole_word_masking: bool = False,
    split: str = "train",
    validation_fraction: float = 0.01,
    shuffle_buffer: int = 10_000,
    max_line_bytes: int = 100_000,
    seed: int = 0,
    stats: LineStats | None = None,
    repeat: bool = True,
) -> tf.data.Dataset:
    """Batches of `(x, y, sample_weight)` for `BertPretrainer`.

    The training split is reshuffled every pass and, with `repeat`, endless; validation
    is one pass in a fixed order.
    """
    training = split == "train"
    finish = functools.partial(
        _pack_and_mask,
        tokenizer=tokenizer,
        batch_size=batch_size,
        sequence_length=sequence_length,
        max_predictions_per_seq=max_predictions_per_seq,
        mask_rate=mask_rate,
        whole_word_masking=whole_word_masking,
        pair_objective=pair_objective,
    )
    read = functools.partial(
        read_paragraphs,
        files,
        split=split,
        validation_fraction=validation_fraction,
        max_line_bytes=max_line_bytes,
        stats=stats,
        shuffle_files_seed=seed if training else None,
    )

    if pair_objective == "none":
        # RoBERTa FULL-SENTENCES: contiguous text across paragraphs, [SEP] between docs.
        paragraphs = read()
        if training and repeat:
            paragraphs = paragraphs.repeat()
        stream = token_stream(paragraphs, tokenizer, tokenizer.sep_id)
        windows = pack_windows(stream, sequence_length - 2)
        if training:
            windows = windows.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=False)
        batches = windows.batch(batch_size, drop_remainder=True).map(
            lambda window: finish(tf.RaggedTensor.from_tensor(window), None, None)
        )
    else:
        # BERT-filled rows: chunks of consecutive paragraphs of one document (built per
        # file, before the files are interleaved), each cut into A and B below. A
        # document of one paragraph gives no chunk; chunks exist before .repeat(), which
        # ends on an empty pass (after it, no pair would loop forever).
        chunks = read(per_file=lambda p: document_chunks(p, tokenizer, sequence_length - 3))
        if training and repeat:
            chunks = chunks.repeat()
        # Validation is shuffled too (once, fixed): NSP takes a neighbouring row's chunk
        # as B, and unshuffled neighbours share a document, so labels would be ~all 0.
        # No reshuffle (training streams are one endless iteration): its seeds come from
        # a generator that Keras' peek at the data advances, so a resumed run's skip()
        # landed on other batches than the unbroken run after ~100 steps (kill storm).
        chunks = chunks.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=False)

        def to_pairs(batch):
            tokens = batch["tokens"]
            first, second = split_chunks(tokens, batch["paragraph_lengths"])
            if pair_objective == "sop":  # both orders hold the text next to the boundary
                first, second = trim_pair(first, second, sequence_length - 3)
            return finish(
                *make_segment_pairs(first, second, tokens, batch["document"], pair_objective)
            )

        batches = chunks.ragged_batch(batch_size, drop_remainder=True).map(to_pairs)
    return batches.prefetch(AUTOTUNE)


def special_ids(tokenizer) -> tuple[int, ...]:
    """Ids masking must never select (looked up: imported vocabularies differ)."""
    return (
        tokenizer.pad_id,
        tokenizer.cls_id,
        tokenizer.sep_id,
        tokenizer.mask_id,
        tokenizer.unk_id,
    )


def _pack_and_mask(
    first,
    second,
    label,
    tokenizer,
    batch_size,
    sequence_length,
    max_predictions_per_seq,
    mask_rate,
    whole_word_masking,
    pair_objective,
):
    if second is None:
        token_ids, segment_ids = pack_segments([first], tokenizer.cls_id, tokenizer.sep_id)
    else:
        first, second = trim_pair(first, second, sequence_length - 3)
        token_ids, segment_ids = pack_segments([first, second], tokenizer.cls_id, tokenizer.sep_id)
    masked = mask_tokens(
        token_ids,
        tokenizer.vocabulary_size,
        max_predictions_per_seq,
        mask_rate,
        tokenizer.is_continuation if whole_word_masking else None,
        mask_id=tokenizer.mask_id,
        special_ids=special_ids(tokenizer),
    )
    padding_mask = tf.sequence_mask(token_ids.row_lengths(), sequence_length, dtype=tf.int32)
    x = {
        "token_ids": to_dense(masked["token_ids"], sequence_length, tokenizer.pad_id),
        "segment_ids": to_dense(segment_ids, sequence_length),
        "padding_mask": padding_mask,
        "mask_positions": masked["mask_positions"],
    }
    y = {"mlm": masked["mask_ids"]}
    sample_weight = {"mlm": masked["mask_weights"]}
    if label is not None:
        y[pair_objective] = label
        sample_weight[pair_objective] = tf.ones_like(label, tf.float32)
    # Static (batch, ...) shapes for XLA and for MirroredStrategy's batch split.
    return tf.nest.map_structure(
        lambda t: tf.ensure_shape(t, [batch_size, *t.shape[1:]]), (x, y, sample_weight)
    )

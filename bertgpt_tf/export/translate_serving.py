"""TranslateServing: the raw-text `translate` endpoint of a trained `Seq2SeqTransformer`.

Tokenizing and packing the source (`bertgpt_tf.tokenizers.seq2seq_packing`, as the
training pipeline does), the cached greedy or beam-search loop and detokenizing all run
inside the graph: the SavedModel answers strings with strings.
"""

import time

import numpy as np
import tensorflow as tf
from absl import logging

from bertgpt_tf.export.serving_module import ServingModule
from bertgpt_tf.models.seq2seq_generation import beam_search, greedy_search
from bertgpt_tf.models.seq2seq_transformer import Seq2SeqTransformer
from bertgpt_tf.tokenizers.seq2seq_packing import pack_source

TEXT = tf.TensorSpec([None], tf.string, name="text")
WARMUP_TEXTS = ["A man in an orange hat looks at something.", "Two dogs play in the snow."]


class TranslateServing(ServingModule):
    """Wraps a trained `Seq2SeqTransformer` and its tokenizers: `translate` (=
    `serving_default`), `text` (batch of source strings) -> `translation` (strings).

    Sources keep their first `sequence_length - 1` tokens; translations have at most
    `sequence_length` tokens (the end token included). The search is fixed at export:
    `beam_size=1` is greedy search, larger is beam search with `length_penalty`.

    Args:
        seq2seq: a trained `Seq2SeqTransformer`.
        source_tokenizer: tokenizer of the source language (`tokenize`, `end_id`, `pad_id`).
        target_tokenizer: tokenizer of the target language (`detokenize`, `end_id`,
            `pad_id`); the same object when the vocabulary is shared.
        sequence_length: the training sequence length (source and target).
        beam_size: 1 = greedy search.
        length_penalty: GNMT alpha of beam search.
    """

    endpoints = ("translate",)

    def __init__(
        self,
        seq2seq: Seq2SeqTransformer,
        source_tokenizer,
        target_tokenizer,
        sequence_length: int,
        beam_size: int = 1,
        length_penalty: float = 0.6,
    ):
        super().__init__(name="translate_serving")
        self.seq2seq = seq2seq
        self.source_tokenizer = source_tokenizer
        self.target_tokenizer = target_tokenizer
        self.sequence_length = sequence_length
        self.beam_size = beam_size
        self.length_penalty = length_penalty
        self.model_variables = list(seq2seq.variables)  # tracked for tf.saved_model.save

    @tf.function(input_signature=[TEXT])
    def translate(self, text):
        """(batch,) source strings -> `translation` (batch,) strings."""
        source = self.source_tokenizer
        inputs = pack_source(
            source.tokenize(text), source.end_id, source.pad_id, self.sequence_length
        )  # (batch, sequence_length) each
        target = self.target_tokenizer
        args = (
            self.seq2seq,
            inputs["encoder_token_ids"],
            inputs["encoder_padding_mask"],
            self.sequence_length,
            target.end_id,  # the start token
            target.end_id,
        )
        if self.beam_size == 1:
            ids = greedy_search(*args, pad_id=target.pad_id)
        else:
            ids = beam_search(
                *args, self.beam_size, self.length_penalty, pad_id=target.pad_id
            )  # (batch, sequence_length)
        # The end and pad ids are control pieces: they detokenize to nothing.
        return {"translation": target.detokenize(ids)}

    def translate_texts(self, texts: list[str], batch_size: int = 100) -> list[str]:
        """Python convenience over `translate`, in batches, with a progress log line
        per batch."""
        started, results = time.monotonic(), []
        for start in range(0, len(texts), batch_size):
            batch = tf.constant(texts[start : start + batch_size])
            results += [
                t.decode("utf-8", "replace") for t in self.translate(batch)["translation"].numpy()
            ]
            logging.info(
                "decoded %d/%d sentences (beam %d, %.1f s)",
                len(results), len(texts), self.beam_size, time.monotonic() - started,
            )  # fmt: skip
        return results

    def example_requests(self) -> list[tuple[str, dict[str, np.ndarray]]]:
        texts = np.array(WARMUP_TEXTS, object)
        return [("translate", {"text": texts[:1]}), ("translate", {"text": texts})]

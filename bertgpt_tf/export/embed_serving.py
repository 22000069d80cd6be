"""EmbedServing: raw-text `embed` (unit vectors) and `similarity` (cosine) endpoints of
a fine-tuned `SentenceEmbedder`."""

import keras
import numpy as np
import tensorflow as tf

from bertgpt_tf.export.classifier_serving import TEXT, TEXT_B, WARMUP_TEXTS
from bertgpt_tf.export.serving_module import ServingModule, same_rows
from bertgpt_tf.tokenizers.segment_packer import encode_texts


class EmbedServing(ServingModule):
    """Endpoints: `embed` (= `serving_default`; `text` -> `embedding`, float32
    (batch, hidden_dim), L2 norm 1) and `similarity` (`text`, `text_b` -> `score`, the
    cosine of their embeddings, float32 (batch,); `text` and `text_b` need as many rows,
    else an InvalidArgument naming both sizes).

    Args:
        model: a trained `SentenceEmbedder` (no LoRA layers: merge them first).
        tokenizer: the run's `WordPieceTokenizer`.
        sequence_length: each text is truncated to this many tokens.
    """

    endpoints = ("embed", "similarity")

    def __init__(self, model: keras.Model, tokenizer, sequence_length: int):
        super().__init__(name="embed_serving")
        self.model = model
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self.model_variables = list(model.variables)  # tracked for tf.saved_model.save
        self.embed = tf.function(self._embed, input_signature=[TEXT])
        self.similarity = tf.function(self._similarity, input_signature=[TEXT, TEXT_B])

    def _vectors(self, text):
        inputs = encode_texts(self.tokenizer, text, None, self.sequence_length, static=False)
        return tf.cast(self.model(inputs), tf.float32)

    def _embed(self, text):
        return {"embedding": self._vectors(text)}

    def _similarity(self, text, text_b):
        # one encoder pass over both; split back in two halves, so sizes must match
        both = self._vectors(tf.concat(same_rows(text, text_b), axis=0))
        u, v = tf.split(both, 2, axis=0)
        return {"score": tf.reduce_sum(u * v, axis=-1)}

    def example_requests(self) -> list[tuple[str, dict[str, np.ndarray]]]:
        one, two = np.array(WARMUP_TEXTS[:1], object), np.array(WARMUP_TEXTS, object)
        return [
            ("embed", {"text": one}),
            ("embed", {"text": two}),
            ("similarity", {"text": two, "text_b": two[::-1]}),
        ]

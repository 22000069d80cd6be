"""NERServing: raw text in, entity spans out, from a fine-tuned `TokenClassifier`."""

import keras
import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

from bertgpt_tf.export.serving_module import ServingModule
from bertgpt_tf.tokenizers.segment_packer import encode_words

TEXT = tf.TensorSpec([None], tf.string, name="text")
# Words: runs of non-space, non-punctuation characters; each punctuation mark is a word
# (CoNLL's tokenization, which the model was trained on).
WORD_DELIMITERS, KEEP_DELIMITERS = r"\s+|\pP", r"\pP"
WARMUP_TEXTS = [
    "EU rejects German call to boycott British lamb.",
    "Peter Blackburn lives in Zürich",
]


class NERServing(ServingModule):
    """Endpoint `ner` (= `serving_default`): for each text, its entities padded to the
    batch's most: `entity_text`, `entity_type` ("" padding), `entity_start` /
    `entity_end` (character offsets into the input, end exclusive; -1 padding),
    `num_entities`. A word's tag is the prediction at its first piece; spans follow
    IOB2 as conlleval reads it (an I- tag that does not continue starts an entity).

    Args:
        model: a trained `TokenClassifier` (LoRA merged).
        tokenizer: the run's `WordPieceTokenizer`.
        sequence_length: pieces beyond it are cut; their words get no entity.
        labels: the tag names in class-id order ("O", "B-PER", ...).
    """

    endpoints = ("ner",)

    def __init__(self, model: keras.Model, tokenizer, sequence_length: int, labels: list[str]):
        super().__init__(name="ner_serving")
        self.model = model
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self.labels = labels
        self.label_table = tf.constant(labels)
        self.model_variables = list(model.variables)  # tracked for tf.saved_model.save

    def word_tags(self, text: tf.Tensor):
        """(words, byte starts, byte ends, tags), each (batch, words) ragged."""
        words, starts, ends = tf_text.regex_split_with_offsets(
            text, WORD_DELIMITERS, KEEP_DELIMITERS
        )
        inputs, first = encode_words(self.tokenizer, words, self.sequence_length, static=False)
        predicted = tf.argmax(self.model(inputs), axis=-1, output_type=tf.int32)  # (batch, seq)
        ids = tf.gather(predicted, tf.maximum(first, 0), batch_dims=1)
        ids = tf.where(first >= 0, ids, self.labels.index("O"))
        return words, starts, ends, tf.gather(self.label_table, ids)

    @tf.function(input_signature=[TEXT])
    def ner(self, text):
        _, starts, ends, tags = self.word_tags(text)
        flat, row = tags.flat_values, tags.value_rowids()
        kind = tf.strings.regex_replace(flat, "^[BI]-", "")  # "O" stays "O"
        previous_kind = tf.concat([[""], kind[:-1]], 0)
        same_row = tf.concat([[False], row[1:] == row[:-1]], 0)
        continues = tf.strings.regex_full_match(flat, "I-.*") & same_row & (previous_kind == kind)
        inside = tf.not_equal(flat, "O")
        begins = inside & ~continues
        num_spans = tf.reduce_sum(tf.cast(begins, tf.int32))
        span = tf.where(inside, tf.cumsum(tf.cast(begins, tf.int32)) - 1, num_spans)
        word = tf.range(tf.shape(flat)[0])
        first_word = tf.math.unsorted_segment_min(word, span, num_spans + 1)[:num_spans]
        last_word = tf.math.unsorted_segment_max(word, span, num_spans + 1)[:num_spans]
        span_row = tf.gather(row, first_word)
        source = tf.gather(text, span_row)
        byte_start = tf.cast(tf.gather(starts.flat_values, first_word), tf.int32)
        byte_end = tf.cast(tf.gather(ends.flat_values, last_word), tf.int32)
        entity = tf.strings.substr(source, byte_start, byte_end - byte_start)
        before = tf.strings.substr(source, tf.zeros_like(byte_start), byte_start)
        start = tf.strings.length(before, unit="UTF8_CHAR")
        end = start + tf.strings.length(entity, unit="UTF8_CHAR")
        batch = tf.shape(text, out_type=tf.int64)[0]

        def per_text(values, pad):
            return tf.RaggedTensor.from_value_rowids(values, span_row, nrows=batch).to_tensor(pad)

        return {
            "entity_text": per_text(entity, ""),
            "entity_type": per_text(tf.gather(kind, first_word), ""),
            "entity_start": per_text(start, -1),
            "entity_end": per_text(end, -1),
            "num_entities": tf.math.bincount(
                tf.cast(span_row, tf.int32), minlength=tf.cast(batch, tf.int32), dtype=tf.int32
            ),
        }

    def example_requests(self) -> list[tuple[str, dict[str, np.ndarray]]]:
        texts = np.array(WARMUP_TEXTS, object)
        return [("ner", {"text": texts[:1]}), ("ner", {"text": texts})]

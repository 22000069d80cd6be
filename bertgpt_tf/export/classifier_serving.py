"""TextClassifierServing: raw-text `classify` (labels + probabilities) or `regress`
(score) endpoints of a fine-tuned `TextClassifier`."""

import keras
import numpy as np
import tensorflow as tf

from bertgpt_tf.export.serving_module import ServingModule, same_rows
from bertgpt_tf.tokenizers.segment_packer import encode_texts

TEXT = tf.TensorSpec([None], tf.string, name="text")
TEXT_B = tf.TensorSpec([None], tf.string, name="text_b")
WARMUP_TEXTS = ["a charming and often affecting journey.", "unflinchingly bleak and desperate"]


class TextClassifierServing(ServingModule):
    """Endpoints: `classify` (= `serving_default`; `label`, `label_id`, `probabilities`
    in the order of `labels`) for classifiers, `regress` (`score`) for regressors. Each
    takes `text`, plus `text_b` when the model was trained on pairs.

    Args:
        model: a trained `TextClassifier` (no LoRA layers: merge them first).
        tokenizer: the run's `WordPieceTokenizer`.
        sequence_length: requests are truncated to this many tokens.
        labels: the label names, in class-id order; None for a regressor.
        pair: whether requests carry `text_b` (as many rows as `text`, else an
            InvalidArgument naming both sizes).
    """

    def __init__(
        self,
        model: keras.Model,
        tokenizer,
        sequence_length: int,
        labels: list[str] | None,
        pair: bool = False,
    ):
        super().__init__(name="text_classifier_serving")
        self.model = model
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self.labels = labels
        self.pair = pair
        self.label_table = tf.constant(labels or [""])
        self.endpoints = ("classify" if labels else "regress",)
        self.model_variables = list(model.variables)  # tracked for tf.saved_model.save
        function = self._predict_pair if pair else self._predict
        signature = [TEXT, TEXT_B] if pair else [TEXT]
        predict = tf.function(function, input_signature=signature)
        setattr(self, self.endpoints[0], predict)

    def _outputs(self, text, text_b=None):
        inputs = encode_texts(self.tokenizer, text, text_b, self.sequence_length, static=False)
        logits = tf.cast(self.model(inputs), tf.float32)
        if not self.labels:
            return {"score": logits[:, 0]}
        probabilities = tf.nn.softmax(logits)
        label_id = tf.argmax(probabilities, axis=-1, output_type=tf.int32)
        return {
            "label": tf.gather(self.label_table, label_id),
            "label_id": label_id,
            "probabilities": probabilities,
        }

    def _predict(self, text):
        return self._outputs(text)

    def _predict_pair(self, text, text_b):
        return self._outputs(*same_rows(text, text_b))

    def example_requests(self) -> list[tuple[str, dict[str, np.ndarray]]]:
        one, two = np.array(WARMUP_TEXTS[:1], object), np.array(WARMUP_TEXTS, object)
        requests = []
        for texts in (one, two):
            inputs = {"text": texts, **({"text_b": texts[::-1]} if self.pair else {})}
            requests.append((self.endpoints[0], inputs))
        return requests

"""TokenClassifier: a `BertEncoder` backbone + a dense layer on every position (NER tags)."""

import keras

from bertgpt_tf.tasks.text_classifier import TextClassifier


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class TokenClassifier(TextClassifier):
    """Per-token tag logits over a `BertEncoder`: `TextClassifier`'s head applied to the
    `sequence_output` instead of the pooled [CLS] vector.

    Inputs: `token_ids`, `segment_ids`, `padding_mask` (batch, seq).
    Output: float32 logits (batch, seq, num_classes). Training labels only the first
    piece of each word (sample weight 0 elsewhere).

    Args: as `TextClassifier` (`num_classes`: number of tags).
    """

    backbone_output = "sequence_output"

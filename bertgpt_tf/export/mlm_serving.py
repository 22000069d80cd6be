"""MaskedLMServing: the raw-text (and token-tensor) endpoints of a pretrained encoder.

Tokenizing and packing inside the graph re-use `bertgpt_tf.tokenizers` — the same
functions the training pipeline runs — so a request is preprocessed exactly as the
training text was. Every output is float32, int32 or string (never bfloat16), as TF
Serving's JSON encoder needs.
"""

import keras
import numpy as np
import tensorflow as tf

from bertgpt_tf.export.serving_module import ServingModule, same_rows
from bertgpt_tf.tokenizers.segment_packer import encode_texts
from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer

TEXT = tf.TensorSpec([None], tf.string, name="text")
TEXT_B = tf.TensorSpec([None], tf.string, name="text_b")
TOKENS = tf.TensorSpec([None, None], tf.int32)


WARMUP_TEXTS = ["the capital of france is [MASK].", "a [MASK] day in the [MASK] city"]


class MaskedLMServing(ServingModule):
    """Wraps a trained `BertPretrainer` and its tokenizer as SavedModel endpoints:
    `fill_mask` (= `serving_default`), `encode`, `encode_pair`, `encode_tokens`,
    `fill_mask_tokens`.

    Args:
        pretrainer: a trained `BertPretrainer` (its `backbone` and `mlm_head` are used).
        tokenizer: the run's `WordPieceTokenizer` (built with special tokens in strings).
        sequence_length: requests are truncated to this many tokens.
        top_k: candidates returned per [MASK].
        backbone: the encoder `encode*` runs; default the pretrainer's. ELECTRA serves
            `fill_mask` with its generator and `encode` with its discriminator.
        fill_mask: serve `fill_mask*`; off for an imported encoder whose checkpoint had
            no MLM head (its head would be untrained): then `encode` is the default.
    """

    endpoints = ("fill_mask", "encode", "encode_pair", "encode_tokens", "fill_mask_tokens")

    def __init__(
        self,
        pretrainer: keras.Model,
        tokenizer: WordPieceTokenizer,
        sequence_length: int = 128,
        top_k: int = 5,
        backbone: keras.Model | None = None,
        fill_mask: bool = True,
    ):
        super().__init__(name="masked_lm_serving")
        if not fill_mask:
            self.endpoints = tuple(e for e in self.endpoints if not e.startswith("fill_mask"))
        self.pretrainer = pretrainer
        self.backbone = backbone or pretrainer.backbone
        self.tokenizer = tokenizer
        self.sequence_length = sequence_length
        self.top_k = top_k
        # Track every variable explicitly so tf.saved_model.save finds them all.
        variables = {id(v): v for v in [*pretrainer.variables, *self.backbone.variables]}
        self.model_variables = list(variables.values())

    # --- preprocessing: raw text -> model inputs --------------------------------------

    def preprocess(self, text: tf.Tensor, text_b: tf.Tensor | None = None) -> dict[str, tf.Tensor]:
        """(batch,) strings -> token_ids/segment_ids/padding_mask (batch, <=sequence_length)."""
        return encode_texts(self.tokenizer, text, text_b, self.sequence_length, static=False)

    # --- endpoints -------------------------------------------------------------------

    @tf.function(input_signature=[TOKENS, TOKENS, TOKENS])
    def encode_tokens(self, token_ids, segment_ids, padding_mask):
        outputs = self.backbone(
            {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
        )
        return {
            "sequence_output": tf.cast(outputs["sequence_output"], tf.float32),
            "pooled_output": tf.cast(outputs["pooled_output"], tf.float32),
        }

    @tf.function(input_signature=[TEXT])
    def encode(self, text):
        inputs = self.preprocess(text)
        return {**self.encode_tokens(**inputs), "padding_mask": inputs["padding_mask"]}

    @tf.function(input_signature=[TEXT, TEXT_B])
    def encode_pair(self, text, text_b):
        """`text` and `text_b` need as many rows (else InvalidArgument naming both)."""
        inputs = self.preprocess(*same_rows(text, text_b))
        return {**self.encode_tokens(**inputs), "padding_mask": inputs["padding_mask"]}

    @tf.function(input_signature=[TOKENS, TOKENS, TOKENS, TOKENS])
    def fill_mask_tokens(self, token_ids, segment_ids, padding_mask, mask_positions):
        """Vocabulary logits (batch, masks, vocabulary_size) at `mask_positions`."""
        outputs = self.pretrainer(
            {
                "token_ids": token_ids,
                "segment_ids": segment_ids,
                "padding_mask": padding_mask,
                "mask_positions": mask_positions,
            }
        )
        return {"logits": tf.cast(outputs["mlm"], tf.float32)}

    @tf.function(input_signature=[TEXT])
    def fill_mask(self, text):
        """Top-k tokens and probabilities for every [MASK] in each text.

        Rows with fewer masks than the batch maximum are padded: position -1, token "",
        score 0.
        """
        inputs = self.preprocess(text)
        is_mask = tf.equal(inputs["token_ids"], self.tokenizer.mask_id)
        positions = tf.ragged.boolean_mask(
            tf.broadcast_to(tf.range(tf.shape(is_mask)[1]), tf.shape(is_mask)), is_mask
        )
        mask_positions = positions.to_tensor(0)  # (batch, masks)
        logits = self.fill_mask_tokens(**inputs, mask_positions=mask_positions)["logits"]
        scores, ids = tf.math.top_k(tf.nn.softmax(logits), k=self.top_k)  # (batch, masks, k)
        valid = tf.sequence_mask(positions.row_lengths(), tf.shape(mask_positions)[1])
        valid_k = tf.broadcast_to(valid[:, :, None], tf.shape(ids))
        return {
            "mask_positions": tf.where(valid, mask_positions, -1),
            "top_ids": tf.where(valid_k, ids, -1),
            "top_tokens": tf.where(valid_k, self.tokenizer.id_to_token(ids), ""),
            "top_scores": tf.where(valid_k, scores, 0.0),
        }

    def example_requests(self) -> list[tuple[str, dict[str, np.ndarray]]]:
        one, two = np.array(WARMUP_TEXTS[:1], object), np.array(WARMUP_TEXTS, object)
        tokens = {k: v.numpy() for k, v in self.preprocess(tf.constant(two)).items()}
        positions = np.argmax(tokens["token_ids"] == self.tokenizer.mask_id, axis=1)[:, None]
        requests = [
            ("fill_mask", {"text": one}),
            ("fill_mask", {"text": two}),
            ("encode", {"text": two}),
            ("encode_pair", {"text": two, "text_b": two[::-1]}),
            ("encode_tokens", tokens),
            ("fill_mask_tokens", {**tokens, "mask_positions": positions.astype(np.int32)}),
        ]
        return [(name, inputs) for name, inputs in requests if name in self.endpoints]

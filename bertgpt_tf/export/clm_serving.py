"""CausalLMServing: raw-text `generate` and `score` endpoints of a trained GPT decoder.

Tokenization, the KV-cached decode loop and detokenization all run inside the graph, so
the SavedModel answers strings with strings. Outputs are float32, int32 or string.
"""

import numpy as np
import tensorflow as tf

from bertgpt_tf.export.serving_module import ServingModule
from bertgpt_tf.models.gpt_decoder import GPTDecoder
from bertgpt_tf.models.gpt_generation import generate

PROMPT = tf.TensorSpec([None], tf.string, name="prompt")
TEXT = tf.TensorSpec([None], tf.string, name="text")
TOKENS = tf.TensorSpec([None, None], tf.int32)


WARMUP_TEXTS = ["The king said", "Once upon a time there was"]


class CausalLMServing(ServingModule):
    """Wraps a trained `GPTDecoder` and its tokenizer as SavedModel endpoints:
    `generate` (= `serving_default`), `score`, `logits_tokens` (token tensors in,
    next-token logits out).

    `generate` takes scalar controls (`max_new_tokens`, `temperature`, `top_k`,
    `top_p`, `seed`) next to the batch of prompts, so REST clients use the columnar
    `inputs` form. Up to `max_new_tokens_limit` new tokens are generated (a static bound:
    it sizes the KV cache). Prompts keep their last `max_sequence_length - limit` tokens
    and scored texts their last `max_sequence_length` (the end-of-text token that opens
    them included), with learned and rotary positions alike: a rotary decoder has no
    table to overflow, but an uncut 100k-character request would cost O(n^2) attention
    and an n + limit cache.

    Args:
        decoder: a trained `GPTDecoder`.
        tokenizer: its tokenizer (`tokenize`, `detokenize`, `end_id`, `pad_id`).
        max_new_tokens_limit: the most tokens one request may ask for.
    """

    endpoints = ("generate", "score", "logits_tokens")

    def __init__(self, decoder: GPTDecoder, tokenizer, max_new_tokens_limit: int = 256):
        super().__init__(name="causal_lm_serving")
        self.decoder = decoder
        self.tokenizer = tokenizer
        self.max_new_tokens_limit = max_new_tokens_limit
        self.max_prompt_tokens = decoder.max_sequence_length - max_new_tokens_limit
        if self.max_prompt_tokens < 1:
            raise ValueError("max_new_tokens_limit leaves no room for a prompt")
        self.model_variables = list(decoder.variables)  # tracked for tf.saved_model.save

    def _prompt_ids(self, prompt: tf.Tensor, max_tokens: int) -> tf.RaggedTensor:
        """The last `max_tokens` of [end] + prompt tokens (the end-of-text token opens
        every document in training)."""
        ids = tf.cast(self.tokenizer.tokenize(prompt), tf.int32)
        start = tf.fill([tf.shape(prompt)[0], 1], self.tokenizer.end_id)
        ids = tf.concat([tf.RaggedTensor.from_tensor(start), ids], axis=1)
        return ids[:, -max_tokens:]

    @tf.function(
        input_signature=[
            PROMPT,
            tf.TensorSpec([], tf.int32, name="max_new_tokens"),
            tf.TensorSpec([], tf.float32, name="temperature"),
            tf.TensorSpec([], tf.int32, name="top_k"),
            tf.TensorSpec([], tf.float32, name="top_p"),
            tf.TensorSpec([], tf.int32, name="seed"),
        ]
    )
    def generate(self, prompt, max_new_tokens, temperature, top_k, top_p, seed):
        """Continuations of each prompt (the prompt itself not repeated); a prompt
        longer than `max_sequence_length - max_new_tokens_limit` tokens (the opening
        end-of-text included) keeps its last ones."""
        ids = self._prompt_ids(prompt, self.max_prompt_tokens)
        prompts = ids.to_tensor(self.tokenizer.pad_id)
        # a batch of 0 has width 0, and generation reads the last prompt position
        prompts = tf.pad(prompts, [[0, 0], [0, tf.maximum(1 - tf.shape(prompts)[1], 0)]])
        out = generate(
            self.decoder,
            prompts,
            ids.row_lengths(),
            self.max_new_tokens_limit,
            temperature=temperature,
            top_k=top_k,
            top_p=top_p,
            seed=seed,
            end_id=self.tokenizer.end_id,
            pad_id=self.tokenizer.pad_id,
            new_token_limit=tf.clip_by_value(max_new_tokens, 0, self.max_new_tokens_limit),
        )
        count = out["num_new_tokens"]  # (batch,)
        starts = tf.cast(ids.row_lengths(), tf.int32)
        new_ids = tf.RaggedTensor.from_tensor(out["token_ids"])
        # Keep positions [start, start + count): the new tokens, not the prompt or padding.
        positions = tf.ragged.range(new_ids.row_lengths())  # (batch, total_len)
        keep = (positions >= tf.cast(starts, tf.int64)[:, None]) & (
            positions < tf.cast(starts + count, tf.int64)[:, None]
        )
        new_ids = tf.ragged.boolean_mask(new_ids, keep)
        return {
            "text": self.tokenizer.detokenize(new_ids),
            "num_new_tokens": count,
            "token_ids": new_ids.to_tensor(self.tokenizer.pad_id),
        }

    @tf.function(input_signature=[TOKENS, TOKENS])
    def logits_tokens(self, token_ids, padding_mask):
        outputs = self.decoder({"token_ids": token_ids, "padding_mask": padding_mask})
        return {"logits": tf.cast(outputs["logits"], tf.float32)}

    @tf.function(input_signature=[TEXT])
    def score(self, text):
        """Log-likelihood of each text (every token after the opening end-of-text),
        its token count and perplexity = exp(-log_likelihood / num_tokens). Texts keep
        their last `max_sequence_length - 1` tokens."""
        ids = self._prompt_ids(text, self.decoder.max_sequence_length)
        token_ids = ids.to_tensor(self.tokenizer.pad_id)  # (batch, seq)
        mask = tf.sequence_mask(ids.row_lengths(), tf.shape(token_ids)[1], dtype=tf.int32)
        logits = self.logits_tokens(token_ids, mask)["logits"][:, :-1]  # predicts ids[1:]
        log_probs = tf.nn.log_softmax(logits)
        targets = token_ids[:, 1:]
        picked = tf.gather(log_probs, targets, batch_dims=2)  # (batch, seq - 1)
        weights = tf.cast(mask[:, 1:], tf.float32)
        log_likelihood = tf.reduce_sum(picked * weights, axis=1)
        num_tokens = tf.reduce_sum(mask[:, 1:], axis=1)
        perplexity = tf.exp(-log_likelihood / tf.maximum(tf.cast(num_tokens, tf.float32), 1.0))
        return {
            "log_likelihood": log_likelihood,
            "num_tokens": num_tokens,
            "perplexity": perplexity,
        }

    def complete(
        self,
        prompts: list[str],
        max_new_tokens: int = 100,
        temperature: float = 0.0,
        top_k: int = 0,
        top_p: float = 1.0,
        seed: int = 0,
    ) -> list[str]:
        """Python convenience over `generate`: each prompt followed by its continuation."""
        controls = (max_new_tokens, temperature, top_k, top_p, seed)
        dtypes = (tf.int32, tf.float32, tf.int32, tf.float32, tf.int32)
        args = [tf.constant(v, d) for v, d in zip(controls, dtypes, strict=True)]
        texts = self.generate(tf.constant(prompts), *args)["text"].numpy()
        return [p + t.decode("utf-8", "replace") for p, t in zip(prompts, texts, strict=True)]

    def example_requests(self) -> list[tuple[str, dict[str, np.ndarray]]]:
        texts = np.array(WARMUP_TEXTS, object)
        ids = self._prompt_ids(tf.constant(texts), self.max_prompt_tokens)
        tokens = {
            "token_ids": ids.to_tensor(self.tokenizer.pad_id).numpy(),
            "padding_mask": tf.ones_like(ids).to_tensor(0).numpy(),
        }

        def controls(max_new_tokens: int, temperature: float, top_k: int, top_p: float):
            return {
                "max_new_tokens": np.array(max_new_tokens, np.int32),
                "temperature": np.array(temperature, np.float32),
                "top_k": np.array(top_k, np.int32),
                "top_p": np.array(top_p, np.float32),
                "seed": np.array(0, np.int32),
            }

        return [
            ("generate", {"prompt": texts[:1], **controls(16, 0.0, 0, 1.0)}),  # greedy
            ("generate", {"prompt": texts, **controls(16, 0.8, 40, 0.95)}),  # sampled, seeded
            ("score", {"text": texts}),
            ("logits_tokens", tokens),
        ]

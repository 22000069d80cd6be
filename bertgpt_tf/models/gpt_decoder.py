"""GPTDecoder: the pre-LN GPT backbone as a functional Keras model, with a KV-cache path."""

import keras
import keras_hub
from keras import ops

from bertgpt_tf.layers.causal_transformer_block import FFN_TYPES, CausalTransformerBlock

POSITION_TYPES = ("learned", "rope")


def gpt_kernel_initializer(stddev: float = 0.02) -> keras.initializers.Initializer:
    return keras.initializers.RandomNormal(stddev=stddev)


def position_ids(padding_mask):
    """(batch, seq) position of each token, counting real tokens only.

    `cumsum(padding_mask) - 1`: a left-padded row gets the positions it would have alone
    (0 at its first real token); for right padding or no padding this is `arange(seq)`.
    """
    return ops.maximum(ops.cumsum(ops.cast(padding_mask, "int32"), axis=1) - 1, 0)


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class GPTDecoder(keras.Model):
    """GPT decoder: token (+ learned position) embeddings, causal pre-LN blocks, final LN.

    The output projection is tied to the token embedding
    (`keras_hub.layers.ReversibleEmbedding`); `logits` are float32 also under a
    mixed-precision policy. With `position="learned", ffn="gelu"` this is GPT-2 and its
    numbers match `keras_hub.models.GPT2Backbone` (a parity test pins that).

    Padding: `padding_mask` marks real tokens (1) and may pad on either side. Positions
    count real tokens only (`position_ids`) and padding keys are never attended to, so a
    row's real-token outputs do not depend on its padding. Packed pretraining data
    passes all ones. Batched generation left-pads (see `gpt_generation.generate`).

    Cached decoding: `initial_cache` + `call_with_cache` run the same layers one chunk
    at a time (prefill, then one token per step).

    Args:
        vocabulary_size: number of token ids.
        num_layers: transformer blocks.
        num_heads: attention heads per block.
        hidden_dim: width of the residual stream.
        intermediate_dim: width of the feed-forward layer (of each SwiGLU branch).
        dropout: dropout rate everywhere (embeddings, attention, residual branches).
        max_sequence_length: size of the learned position table (unused with RoPE).
        position: "learned" (GPT-2 position table) or "rope" (rotary, no table).
        ffn: "gelu" (GPT-2) or "swiglu" (LLaMA-style gated feed-forward).
        layer_norm_epsilon: epsilon of every layer norm.

    Example:
    >>> import numpy as np
    >>> decoder = GPTDecoder(vocabulary_size=50, num_layers=1, num_heads=2,
    ...                      hidden_dim=8, intermediate_dim=16)
    >>> out = decoder({"token_ids": np.ones((2, 5), "int32"),
    ...                "padding_mask": np.ones((2, 5), "int32")})
    >>> out["sequence_output"].shape, out["logits"].shape
    (TensorShape([2, 5, 8]), TensorShape([2, 5, 50]))
    """

    def __init__(
        self,
        vocabulary_size: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        intermediate_dim: int,
        dropout: float = 0.0,
        max_sequence_length: int = 1024,
        position: str = "learned",
        ffn: str = "gelu",
        layer_norm_epsilon: float = 1e-5,
        **kwargs,
    ):
        if position not in POSITION_TYPES:
            raise ValueError(f"position must be one of {POSITION_TYPES}, got {position!r}")
        if ffn not in FFN_TYPES:
            raise ValueError(f"ffn must be one of {FFN_TYPES}, got {ffn!r}")

        # === Layers ===
        self.token_embedding = keras_hub.layers.ReversibleEmbedding(
            vocabulary_size,
            hidden_dim,
            embeddings_initializer=gpt_kernel_initializer(),
            name="token_embedding",
        )
        self.position_embedding = self.embeddings_add = None
        if position == "learned":
            self.position_embedding = keras_hub.layers.PositionEmbedding(
                max_sequence_length,
                initializer=gpt_kernel_initializer(),
                name="position_embedding",
            )
            self.embeddings_add = keras.layers.Add(name="embeddings_add")
        self.embeddings_dropout = keras.layers.Dropout(dropout, name="embeddings_dropout")
        self.transformer_layers = [
            CausalTransformerBlock(
                num_heads=num_heads,
                intermediate_dim=intermediate_dim,
                dropout=dropout,
                use_rope=position == "rope",
                ffn=ffn,
                layer_norm_epsilon=layer_norm_epsilon,
                kernel_initializer=gpt_kernel_initializer(),
                name=f"transformer_layer_{i}",
            )
            for i in range(num_layers)
        ]
        self.layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="layer_norm"
        )
        self.logits_float32 = keras.layers.Activation("linear", dtype="float32", name="logits")

        # === Functional Model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        positions = position_ids(padding_mask)  # (batch, seq)
        x = self._embed(token_ids, positions)  # (batch, seq, hidden)
        for block in self.transformer_layers:
            x = block(x, padding_mask=padding_mask, positions=positions)
        x = self.layer_norm(x)
        logits = self.logits_float32(self.token_embedding(x, reverse=True))
        super().__init__(
            inputs={"token_ids": token_ids, "padding_mask": padding_mask},
            outputs={"sequence_output": x, "logits": logits},
            **kwargs,
        )

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.hidden_dim = hidden_dim
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.max_sequence_length = max_sequence_length
        self.position = position
        self.ffn = ffn
        self.layer_norm_epsilon = layer_norm_epsilon

    def _embed(self, token_ids, positions, training=None):
        x = self.token_embedding(token_ids)  # (batch, seq, hidden)
        if self.position_embedding is not None:
            x = self.embeddings_add([x, self.position_embedding(x, positions=positions)])
        return self.embeddings_dropout(x, training=training)

    def initial_cache(self, batch_size, cache_length):
        """Zeros of shape (batch, num_layers, 2, cache_length, num_heads, head_dim)."""
        head_dim = self.hidden_dim // self.num_heads
        shape = (batch_size, self.num_layers, 2, cache_length, self.num_heads, head_dim)
        return ops.zeros(shape, dtype=self.transformer_layers[0].compute_dtype)

    def call_with_cache(self, token_ids, cache, cache_update_index, padding_mask=None):
        """Run `token_ids` at cache slots `[cache_update_index, + seq)`, updating `cache`.

        Call it once on the whole prompt at index 0 (prefill), then once per new token.
        The result equals the uncached forward pass on the tokens so far.

        Args:
            token_ids: (batch, seq) int32, the tokens at those slots.
            cache: (batch, num_layers, 2, cache_length, num_heads, head_dim), from
                `initial_cache`.
            cache_update_index: scalar int (Python or tensor), slot of `token_ids[:, 0]`.
            padding_mask: (batch, cache_length) 1 = real token over the whole cache (slots
                not yet written may be 1: the causal mask hides them). None: all real.

        Returns:
            `(logits, sequence_output, cache)`: (batch, seq, vocabulary_size) float32,
            (batch, seq, hidden_dim), and the updated cache.
        """
        batch_size, seq_len = ops.shape(token_ids)[0], ops.shape(token_ids)[1]
        if padding_mask is None:
            padding_mask = ops.ones((batch_size, ops.shape(cache)[3]), "int32")
        start = ops.cast(cache_update_index, "int32")
        positions = ops.slice(position_ids(padding_mask), [0, start], [batch_size, seq_len])
        x = self._embed(token_ids, positions)  # (batch, seq, hidden)
        layer_caches = []
        for i, block in enumerate(self.transformer_layers):
            x, layer_cache = block(
                x,
                padding_mask=padding_mask,
                positions=positions,
                cache=cache[:, i],
                cache_update_index=start,
            )
            layer_caches.append(layer_cache)
        x = self.layer_norm(x)
        logits = self.logits_float32(self.token_embedding(x, reverse=True))
        return logits, x, ops.stack(layer_caches, axis=1)

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "vocabulary_size": self.vocabulary_size,
            "num_layers": self.num_layers,
            "num_heads": self.num_heads,
            "hidden_dim": self.hidden_dim,
            "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout,
            "max_sequence_length": self.max_sequence_length,
            "position": self.position,
            "ffn": self.ffn,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }

    @classmethod
    def from_config(cls, config: dict) -> "GPTDecoder":
        return cls(**config)

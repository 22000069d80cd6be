"""CausalTransformerBlock: a pre-LN GPT block with a KV cache, RoPE and SwiGLU options."""

import keras
import keras_hub
from keras import ops

FFN_TYPES = ("gelu", "swiglu")


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class CausalTransformerBlock(keras.layers.Layer):
    """Pre-LN causal self-attention + feed-forward block (GPT-2), with variants.

    `x + attn(ln(x))`, then `x + ffn(ln(x))`. A query at absolute slot `i` (its index in
    the sequence, or `cache_update_index + t` when decoding with a cache) attends to key
    slot `j` when `j <= i` and `padding_mask[j] == 1`.

    Written here rather than taken from `keras_hub.layers.TransformerDecoder(
    normalize_first=True)` because that layer's attention (`CachedMultiHeadAttention`)
    has no hook to rotate queries and keys (RoPE), its feed-forward is one activated
    Dense (no SwiGLU gate), and its causal mask assumes positions start at 0 in every
    row (no left-padded prompts). The GPT-2 variant (`use_rope=False, ffn="gelu"`) keeps
    keras-hub's weight layout and order, so a parity test pins it to
    `keras_hub.models.GPT2Backbone`. RoPE comes from `keras_hub.layers.RotaryEmbedding`.

    Args:
        num_heads: attention heads; `hidden_dim` (the input width) must divide by it.
        intermediate_dim: width of the feed-forward layer (of each SwiGLU branch).
        dropout: dropout on attention probabilities and on both residual branches.
        use_rope: rotate queries and keys by their positions (RoFormer / LLaMA).
        ffn: "gelu" (GPT-2: tanh-approximate GELU) or "swiglu" (LLaMA:
            `silu(x W_gate) * (x W_up)`, then down-projection; biases kept as GPT-2).
        layer_norm_epsilon: epsilon of both layer norms.
        kernel_initializer: initializer of every kernel.

    Call arguments:
        x: (batch, seq, hidden_dim).
        padding_mask: (batch, key_length) 1 = real token, 0 = padding; `key_length` is
            `seq`, or the cache length when `cache` is given. None: all real.
        positions: (batch, seq) int positions of `x`, used by RoPE. None:
            `cache_update_index + arange(seq)`.
        cache: (batch, 2, cache_length, num_heads, head_dim) keys (already rotated) and
            values, keras-hub's layout. Returned updated at `cache_update_index`.
        cache_update_index: scalar int, cache slot of `x[:, 0]`.

    Returns:
        `x` (batch, seq, hidden_dim), or `(x, cache)` when a cache is given.

    Example:
    >>> import numpy as np
    >>> block = CausalTransformerBlock(num_heads=2, intermediate_dim=16, use_rope=True)
    >>> block(np.ones((2, 5, 8), "float32")).shape
    TensorShape([2, 5, 8])
    """

    def __init__(
        self,
        num_heads: int,
        intermediate_dim: int,
        dropout: float = 0.0,
        use_rope: bool = False,
        ffn: str = "gelu",
        layer_norm_epsilon: float = 1e-5,
        kernel_initializer="glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if ffn not in FFN_TYPES:
            raise ValueError(f"ffn must be one of {FFN_TYPES}, got {ffn!r}")
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.use_rope = use_rope
        self.ffn = ffn
        self.layer_norm_epsilon = layer_norm_epsilon
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _dense(self, equation: str, output_shape, bias_axes: str, name: str):
        return keras.layers.EinsumDense(
            equation,
            output_shape=output_shape,
            bias_axes=bias_axes,
            kernel_initializer=self.kernel_initializer.__class__.from_config(
                self.kernel_initializer.get_config()
            ),
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, input_shape):
        hidden_dim = input_shape[-1]
        if hidden_dim % self.num_heads:
            raise ValueError(f"hidden_dim={hidden_dim} is not divisible by {self.num_heads=}")
        self.head_dim = hidden_dim // self.num_heads
        heads = (None, self.num_heads, self.head_dim)
        # Same order and shapes as keras-hub's TransformerDecoder (parity test).
        self.query_dense = self._dense("btd,dnh->btnh", heads, "nh", "query")
        self.key_dense = self._dense("btd,dnh->btnh", heads, "nh", "key")
        self.value_dense = self._dense("btd,dnh->btnh", heads, "nh", "value")
        self.attention_output_dense = self._dense(
            "btnh,nhd->btd", (None, hidden_dim), "d", "attention_output"
        )
        self.attention_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="attention_layer_norm"
        )
        self.intermediate_dense = self._dense(
            "btd,df->btf", (None, self.intermediate_dim), "f", "intermediate"
        )
        self.output_dense = self._dense("btf,fd->btd", (None, hidden_dim), "d", "output")
        self.feedforward_layer_norm = keras.layers.LayerNormalization(
            epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name="feedforward_layer_norm"
        )
        self.gate_dense = None
        if self.ffn == "swiglu":
            self.gate_dense = self._dense("btd,df->btf", (None, self.intermediate_dim), "f", "gate")
        self.rotary_embedding = None
        if self.use_rope:
            self.rotary_embedding = keras_hub.layers.RotaryEmbedding(
                dtype=self.dtype_policy, name="rotary_embedding"
            )
        self.attention_probs_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.attention_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)
        self.feedforward_dropout = keras.layers.Dropout(self.dropout, dtype=self.dtype_policy)

        intermediate_shape = (*input_shape[:-1], self.intermediate_dim)
        for layer in (self.query_dense, self.key_dense, self.value_dense):
            layer.build(input_shape)
        self.attention_output_dense.build((*input_shape[:-1], self.num_heads, self.head_dim))
        self.attention_layer_norm.build(input_shape)
        self.intermediate_dense.build(input_shape)
        self.output_dense.build(intermediate_shape)
        self.feedforward_layer_norm.build(input_shape)
        if self.gate_dense is not None:
            self.gate_dense.build(input_shape)
        self.built = True

    def call(
        self,
        x,
        padding_mask=None,
        positions=None,
        cache=None,
        cache_update_index=None,
        training=None,
    ):
        seq_len = ops.shape(x)[1]
        start = 0 if cache_update_index is None else ops.cast(cache_update_index, "int32")
        if positions is None:
            positions = ops.expand_dims(ops.arange(seq_len, dtype="int32") + start, 0)

        h = self.attention_layer_norm(x)
        query = self.query_dense(h)  # (batch, seq, heads, head_dim)
        key = self.key_dense(h)  # (batch, seq, heads, head_dim)
        value = self.value_dense(h)  # (batch, seq, heads, head_dim)
        if self.rotary_embedding is not None:
            query = self.rotary_embedding(query, positions=positions)
            key = self.rotary_embedding(key, positions=positions)
        if cache is not None:
            # Splice this chunk into the cache: (batch, cache_length, heads, head_dim).
            key = ops.slice_update(cache[:, 0], [0, start, 0, 0], key)
            value = ops.slice_update(cache[:, 1], [0, start, 0, 0], value)
            cache = ops.stack([key, value], axis=1)  # (batch, 2, cache_length, heads, head_dim)
        mask = self._attention_mask(seq_len, ops.shape(key)[1], start, padding_mask)
        h = self._attend(query, key, value, mask, training)  # (batch, seq, heads, head_dim)
        h = self.attention_output_dense(h)  # (batch, seq, hidden)
        x = x + self.attention_dropout(h, training=training)

        h = self.feedforward_layer_norm(x)
        if self.gate_dense is None:
            h = keras.activations.gelu(self.intermediate_dense(h), approximate=True)
        else:
            h = keras.activations.silu(self.gate_dense(h)) * self.intermediate_dense(h)
        h = self.output_dense(h)  # (batch, seq, hidden)
        x = x + self.feedforward_dropout(h, training=training)
        return x if cache is None else (x, cache)

    def _attention_mask(self, query_length, key_length, start, padding_mask):
        """(batch or 1, 1, query_length, key_length) bool: causal and not padding."""
        query_slots = ops.arange(query_length, dtype="int32") + start  # (query,)
        key_slots = ops.arange(key_length, dtype="int32")  # (key,)
        mask = ops.expand_dims(query_slots, 1) >= ops.expand_dims(key_slots, 0)  # (query, key)
        mask = mask[None, None]  # (1, 1, query, key)
        if padding_mask is not None:
            real_keys = ops.cast(padding_mask, "bool")[:, None, None, :]  # (batch, 1, 1, key)
            mask = ops.logical_and(mask, real_keys)
        return mask

    def _attend(self, query, key, value, mask, training):
        query = query * ops.cast(self.head_dim**-0.5, query.dtype)
        scores = ops.einsum("bqnh,bknh->bnqk", query, key)  # (batch, heads, query, key)
        # Softmax in float32 (also under mixed precision). A fully masked row (a padding
        # query in a left-padded prompt) gets uniform weights, never NaN.
        scores = ops.where(mask, ops.cast(scores, "float32"), -1e9)
        probs = ops.cast(ops.softmax(scores, axis=-1), self.compute_dtype)
        probs = self.attention_probs_dropout(probs, training=training)
        return ops.einsum("bnqk,bknh->bqnh", probs, value)  # (batch, query, heads, head_dim)

    def get_config(self) -> dict:
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "intermediate_dim": self.intermediate_dim,
                "dropout": self.dropout,
                "use_rope": self.use_rope,
                "ffn": self.ffn,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            }
        )
        return config

    def compute_output_shape(self, input_shape):
        return input_shape

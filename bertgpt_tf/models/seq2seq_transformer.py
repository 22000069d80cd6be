"""Seq2SeqTransformer: the encoder-decoder Transformer (translation), with KV caches."""

import math

import keras
import keras_hub
from keras import ops


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class Seq2SeqTransformer(keras.Model):
    """Encoder-decoder Transformer ("Attention Is All You Need") as a functional model.

    Source tokens -> `keras_hub.layers.TransformerEncoder` blocks; target tokens ->
    `keras_hub.layers.TransformerDecoder` blocks (causal self-attention, then
    cross-attention over the encoder output) -> `logits`. Token embeddings are scaled by
    `sqrt(hidden_dim)` and added to learned position embeddings (one table per side).
    The output projection is tied to the target token embedding
    (`keras_hub.layers.ReversibleEmbedding`); with a shared vocabulary
    (`target_vocabulary_size=0`) one embedding serves the source, the target and the
    output. `logits` are float32 also under a mixed-precision policy.

    Padding: `encoder_padding_mask` hides padded source keys from both attentions;
    targets are padded on the right, which the causal mask already hides from every real
    query (`decoder_padding_mask` is applied too).

    Cached decoding: `encode` once, then `call_decoder_with_cache` one target token at a
    time; the first call (at index 0, with `cross_attention_cache_update_index=0`) also
    fills the cross-attention cache from the encoder output. The results equal the
    teacher-forced forward pass (a parity test pins it).

    Args:
        vocabulary_size: source token ids (and target ids when shared).
        num_layers: blocks in the encoder and (as many) in the decoder.
        num_heads: attention heads per block.
        hidden_dim: width of the residual stream.
        intermediate_dim: width of the (ReLU) feed-forward layer.
        dropout: dropout rate everywhere (embeddings, attention, residual branches).
        max_sequence_length: size of each position table (source and target).
        target_vocabulary_size: target token ids; 0 = the source vocabulary is shared.
        normalize_first: pre-LN blocks (with a final layer norm on each side) instead of
            post-LN ones.
        layer_norm_epsilon: epsilon of every layer norm.

    Example:
    >>> import numpy as np
    >>> model = Seq2SeqTransformer(vocabulary_size=50, num_layers=1, num_heads=2,
    ...                            hidden_dim=8, intermediate_dim=16)
    >>> ones = np.ones((2, 5), "int32")
    >>> model({"encoder_token_ids": ones, "encoder_padding_mask": ones,
    ...        "decoder_token_ids": ones[:, :3], "decoder_padding_mask": ones[:, :3]}
    ...       )["logits"].shape
    TensorShape([2, 3, 50])
    """

    def __init__(
        self,
        vocabulary_size: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        intermediate_dim: int,
        dropout: float = 0.0,
        max_sequence_length: int = 512,
        target_vocabulary_size: int = 0,
        normalize_first: bool = True,
        layer_norm_epsilon: float = 1e-5,
        **kwargs,
    ):
        # === Layers ===
        def embedding(size: int, name: str):
            return keras_hub.layers.ReversibleEmbedding(
                size,
                hidden_dim,
                embeddings_initializer=keras.initializers.RandomNormal(stddev=hidden_dim**-0.5),
                name=name,
            )

        self.token_embedding = embedding(
            target_vocabulary_size or vocabulary_size, "token_embedding"
        )
        self.source_token_embedding = self.token_embedding
        if target_vocabulary_size:
            self.source_token_embedding = embedding(vocabulary_size, "source_token_embedding")
        self.encoder_position_embedding = keras_hub.layers.PositionEmbedding(
            max_sequence_length, name="encoder_position_embedding"
        )
        self.decoder_position_embedding = keras_hub.layers.PositionEmbedding(
            max_sequence_length, name="decoder_position_embedding"
        )
        self.encoder_embeddings_dropout = keras.layers.Dropout(dropout, name="encoder_dropout")
        self.decoder_embeddings_dropout = keras.layers.Dropout(dropout, name="decoder_dropout")
        block_args = dict(
            intermediate_dim=intermediate_dim,
            num_heads=num_heads,
            dropout=dropout,
            layer_norm_epsilon=layer_norm_epsilon,
            normalize_first=normalize_first,
        )
        self.encoder_layers = [
            keras_hub.layers.TransformerEncoder(**block_args, name=f"encoder_layer_{i}")
            for i in range(num_layers)
        ]
        self.decoder_layers = [
            keras_hub.layers.TransformerDecoder(**block_args, name=f"decoder_layer_{i}")
            for i in range(num_layers)
        ]
        self.encoder_layer_norm = self.decoder_layer_norm = None
        if normalize_first:  # pre-LN: the residual stream is normalized once at the end
            self.encoder_layer_norm = keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, name="encoder_layer_norm"
            )
            self.decoder_layer_norm = keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, name="decoder_layer_norm"
            )
        self.logits_float32 = keras.layers.Activation("linear", dtype="float32", name="logits")
        self.hidden_dim = hidden_dim  # used by the embedding scale below

        # === Functional Model ===
        inputs = {
            name: keras.Input(shape=(None,), dtype="int32", name=name)
            for name in (
                "encoder_token_ids",
                "encoder_padding_mask",
                "decoder_token_ids",
                "decoder_padding_mask",
            )
        }
        encoder_output = self.encode(
            inputs["encoder_token_ids"], inputs["encoder_padding_mask"]
        )  # (batch, source, hidden)
        x = self._embed_target(inputs["decoder_token_ids"], 0)  # (batch, target, hidden)
        for block in self.decoder_layers:
            x = block(
                x,
                encoder_output,
                decoder_padding_mask=inputs["decoder_padding_mask"],
                encoder_padding_mask=inputs["encoder_padding_mask"],
            )
        logits = self._logits(x)  # (batch, target, target vocabulary)
        super().__init__(inputs=inputs, outputs={"logits": logits}, **kwargs)

        # === Config ===
        self.vocabulary_size = vocabulary_size
        self.num_layers = num_layers
        self.num_heads = num_heads
        self.intermediate_dim = intermediate_dim
        self.dropout = dropout
        self.max_sequence_length = max_sequence_length
        self.target_vocabulary_size = target_vocabulary_size
        self.normalize_first = normalize_first
        self.layer_norm_epsilon = layer_norm_epsilon

    def _scaled(self, embedding, token_ids):
        x = embedding(token_ids)  # (batch, seq, hidden)
        return x * ops.cast(math.sqrt(self.hidden_dim), x.dtype)

    def _embed_target(self, token_ids, start_index):
        x = self._scaled(self.token_embedding, token_ids)
        x = x + self.decoder_position_embedding(x, start_index=start_index)
        return self.decoder_embeddings_dropout(x)

    def _logits(self, x):
        if self.decoder_layer_norm is not None:
            x = self.decoder_layer_norm(x)
        return self.logits_float32(self.token_embedding(x, reverse=True))

    def encode(self, token_ids, padding_mask):
        """(batch, source) ids and mask -> (batch, source, hidden_dim) encoder output."""
        x = self._scaled(self.source_token_embedding, token_ids)
        x = x + self.encoder_position_embedding(x)
        x = self.encoder_embeddings_dropout(x)
        for block in self.encoder_layers:
            x = block(x, padding_mask=padding_mask)
        if self.encoder_layer_norm is not None:
            x = self.encoder_layer_norm(x)
        return x

    @property
    def head_dim(self) -> int:
        return self.hidden_dim // self.num_heads

    def initial_cache(self, batch_size, length):
        """Zeros of shape (batch, num_layers, 2, length, num_heads, head_dim): the
        self-attention cache (`length` target slots) or the cross-attention cache
        (`length` = source length)."""
        shape = (batch_size, self.num_layers, 2, length, self.num_heads, self.head_dim)
        return ops.zeros(shape, dtype=self.decoder_layers[0].compute_dtype)

    def call_decoder_with_cache(
        self,
        token_ids,
        encoder_output,
        encoder_padding_mask,
        self_attention_cache,
        index,
        cross_attention_cache,
        cross_attention_cache_update_index=None,
    ):
        """Runs target `token_ids` at slots `[index, index + seq)` with the caches.

        Args:
            token_ids: (batch, seq) int32 target tokens (seq = 1 when decoding).
            encoder_output: (batch, source, hidden_dim), from `encode`.
            encoder_padding_mask: (batch, source) 1 = real source token.
            self_attention_cache: (batch, num_layers, 2, target_slots, heads, head_dim).
            index: scalar int, slot of `token_ids[:, 0]`.
            cross_attention_cache: (batch, num_layers, 2, source, heads, head_dim).
            cross_attention_cache_update_index: 0 on the first call (computes the
                cross-attention keys/values from `encoder_output`), None afterwards.

        Returns:
            `(logits, self_attention_cache, cross_attention_cache)`, logits
            (batch, seq, target vocabulary) float32.
        """
        x = self._embed_target(token_ids, index)  # (batch, seq, hidden)
        self_caches, cross_caches = [], []
        for i, block in enumerate(self.decoder_layers):
            x, self_cache, cross_cache = block(
                x,
                encoder_output,
                encoder_padding_mask=encoder_padding_mask,
                self_attention_cache=self_attention_cache[:, i],
                self_attention_cache_update_index=index,
                cross_attention_cache=cross_attention_cache[:, i],
                cross_attention_cache_update_index=cross_attention_cache_update_index,
            )
            self_caches.append(self_cache)
            cross_caches.append(cross_cache)
        return (
            self._logits(x),
            ops.stack(self_caches, axis=1),
            ops.stack(cross_caches, axis=1),
        )

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
            "target_vocabulary_size": self.target_vocabulary_size,
            "normalize_first": self.normalize_first,
            "layer_norm_epsilon": self.layer_norm_epsilon,
        }

    @classmethod
    def from_config(cls, config: dict) -> "Seq2SeqTransformer":
        return cls(**config)

"""BertEncoder: the BERT backbone (post-LN, or pre-LN on request) as a functional Keras model."""

import keras
import keras_hub


@keras.saving.register_keras_serializable(package="bertgpt_tf")
def gelu_exact(x):
    return keras.activations.gelu(x, approximate=False)


@keras.saving.register_keras_serializable(package="bertgpt_tf")
def gelu_tanh(x):
    return keras.activations.gelu(x, approximate=True)


# `activation` names -> functions (keras' "gelu" string is the exact, erf one). Named,
# registered functions, not partials: a layer's get_config (keras.models.clone_model,
# to_json) must serialize them.
ACTIVATIONS = {"gelu": gelu_exact, "gelu_approximate": gelu_tanh}


def bert_kernel_initializer(stddev: float = 0.02) -> keras.initializers.Initializer:
    return keras.initializers.TruncatedNormal(stddev=stddev)


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class BertEncoder(keras.Model):
    """BERT encoder: token + position + segment embeddings, post-LN blocks, pooler.

    Built from keras-hub layers (`ReversibleEmbedding`, `PositionEmbedding`,
    `TransformerEncoder`), so its numerics match `keras_hub.models.BertBackbone`
    (a parity test pins that). The token embedding is public as `token_embedding`
    so heads can tie their output projection to it.

    Args:
        vocabulary_size: number of token ids.
        num_layers: transformer blocks.
        num_heads: attention heads per block.
        hidden_dim: width of the residual stream.
        intermediate_dim: width of the feed-forward layer.
        dropout: dropout rate everywhere (embeddings, attention, FFN).
        max_sequence_length: size of the learned position table.
        num_segments: size of the segment (token type) table.
        normalize_first: pre-LN blocks (LayerNorm before attention and FFN) and a final
            LayerNorm, instead of BERT's post-LN. Post-LN BERT sits on a "predict the
            frequent words" plateau for thousands of steps before it learns to use
            context; pre-LN leaves it several times sooner (README: "Pre-LN"), which is
            what a CPU budget of minutes needs.
        embedding_dim: width of the token, position and segment embeddings; when it
            differs from `hidden_dim` a Dense layer projects them up (ALBERT's
            factorized embedding: `V*E + E*H` parameters instead of `V*H`). 0: `hidden_dim`.
        share_layers: one transformer block applied `num_layers` times (ALBERT's
            cross-layer sharing): the blocks' parameters shrink by a factor `num_layers`,
            the compute does not.
        conv_width: when > 0, a width-`conv_width` 1-D convolution over the token
            embeddings is added to them, so each position starts out holding its
            neighbours (3: previous, own and next token), as ConvBERT's convolutions and
            RWKV's token shift do. It is what gets a small MLM model off the
            "predict frequent words" plateau within minutes on a CPU (README: "The MLM
            plateau"): with absolute positions, attention must first learn to find the
            neighbours of a [MASK] before any context helps. Padded tokens are zeroed
            before the convolution, so padding never leaks into real tokens. 0: off (BERT).
        layer_norm_epsilon: epsilon of every layer norm (BERT's 1e-12; RoBERTa's 1e-5).
        activation: of the feed-forward layers and the MLM head: "gelu" (BERT's exact
            GELU) or "gelu_approximate" (the tanh form: ALBERT's and GPT-2's gelu_new).
        token_embedding: an existing `ReversibleEmbedding` to use instead of a new one
            (ELECTRA's generator shares the discriminator's); its width is the
            embedding width. The owner rebuilds the sharing: not part of `get_config`.

    Example:
    >>> import numpy as np
    >>> encoder = BertEncoder(vocabulary_size=100, num_layers=1, num_heads=2,
    ...                       hidden_dim=8, intermediate_dim=16)
    >>> out = encoder({"token_ids": np.ones((2, 5), "int32"),
    ...                "segment_ids": np.zeros((2, 5), "int32"),
    ...                "padding_mask": np.ones((2, 5), "int32")})
    >>> out["sequence_output"].shape, out["pooled_output"].shape
    (TensorShape([2, 5, 8]), TensorShape([2, 8]))
    """

    def __init__(
        self,
        vocabulary_size: int,
        num_layers: int,
        num_heads: int,
        hidden_dim: int,
        intermediate_dim: int,
        dropout: float = 0.1,
        max_sequence_length: int = 512,
        num_segments: int = 2,
        normalize_first: bool = False,
        embedding_dim: int = 0,
        share_layers: bool = False,
        conv_width: int = 0,
        layer_norm_epsilon: float = 1e-12,
        activation: str = "gelu",
        token_embedding: keras_hub.layers.ReversibleEmbedding | None = None,
        **kwargs,
    ):
        # === Layers ===
        if token_embedding is not None:
            embedding_dim = token_embedding.output_dim
        width = embedding_dim or hidden_dim
        self.token_embedding = token_embedding or keras_hub.layers.ReversibleEmbedding(
            vocabulary_size,
            width,
            embeddings_initializer=bert_kernel_initializer(),
            name="token_embedding",
        )
        self.position_embedding = keras_hub.layers.PositionEmbedding(
            max_sequence_length,
            initializer=bert_kernel_initializer(),
            name="position_embedding",
        )
        self.segment_embedding = keras.layers.Embedding(
            num_segments,
            width,
            embeddings_initializer=bert_kernel_initializer(),
            name="segment_embedding",
        )
        self.embeddings_conv = None
        if conv_width:
            self.embeddings_conv = keras.layers.Conv1D(
                width,
                conv_width,
                padding="same",
                use_bias=False,
                kernel_initializer=bert_kernel_initializer(),
                name="embeddings_conv",
            )
        self.embeddings_add = keras.layers.Add(name="embeddings_add")
        self.embeddings_layer_norm = keras.layers.LayerNormalization(
            epsilon=layer_norm_epsilon, name="embeddings_layer_norm"
        )
        self.embeddings_dropout = keras.layers.Dropout(dropout, name="embeddings_dropout")
        self.embeddings_projection = None
        if width != hidden_dim:
            self.embeddings_projection = keras.layers.Dense(
                hidden_dim,
                kernel_initializer=bert_kernel_initializer(),
                name="embeddings_projection",
            )
        # With `share_layers` the list holds the one shared block.
        self.transformer_layers = [
            keras_hub.layers.TransformerEncoder(
                intermediate_dim=intermediate_dim,
                num_heads=num_heads,
                dropout=dropout,
                activation=ACTIVATIONS[activation],
                layer_norm_epsilon=layer_norm_epsilon,
                kernel_initializer=bert_kernel_initializer(),
                normalize_first=normalize_first,
                name="transformer_layer" if share_layers else f"transformer_layer_{i}",
            )
            for i in range(1 if share_layers else num_layers)
        ]
        # Which block each of the `num_layers` steps applies.
        self._block_order = tuple(0 if share_layers else i for i in range(num_layers))
        self.final_layer_norm = None
        if normalize_first:
            self.final_layer_norm = keras.layers.LayerNormalization(
                epsilon=layer_norm_epsilon, name="final_layer_norm"
            )
        self.pooled_dense = keras.layers.Dense(
            hidden_dim,
            kernel_initializer=bert_kernel_initializer(),
            activation="tanh",
            name="pooled_dense",
        )

        # === Functional Model ===
        token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
        segment_ids = keras.Input(shape=(None,), dtype="int32", name="segment_ids")
        padding_mask = keras.Input(shape=(None,), dtype="int32", name="padding_mask")
        x = self.embed(token_ids, segment_ids, padding_mask)
        x = self.transform(x, padding_mask)
        pooled = self.pooled_dense(x[:, 0, :])  # [CLS] token -> (batch, hidden)
        super().__init__(
            inputs={
                "token_ids": token_ids,
                "segment_ids": segment_ids,
                "padding_mask": padding_mask,
            },
            outputs={"sequence_output": x, "pooled_output": pooled},
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
        self.num_segments = num_segments
        self.normalize_first = normalize_first
        self.embedding_dim = embedding_dim
        self.share_layers = share_layers
        self.conv_width = conv_width
        self.layer_norm_epsilon = layer_norm_epsilon
        self.activation = activation

    def embed(self, token_ids, segment_ids, padding_mask):
        """Token (+ their convolution) + position + segment embeddings, normalised (and
        projected to `hidden_dim` when factorized): (batch, seq, hidden)."""
        tokens = self.token_embedding(token_ids)
        parts = [tokens, self.position_embedding(tokens), self.segment_embedding(segment_ids)]
        if self.embeddings_conv is not None:
            real = keras.ops.cast(keras.ops.expand_dims(padding_mask, -1), tokens.dtype)
            parts.append(self.embeddings_conv(tokens * real))
        x = self.embeddings_add(parts)
        x = self.embeddings_dropout(self.embeddings_layer_norm(x))
        if self.embeddings_projection is not None:
            x = self.embeddings_projection(x)
        return x

    def transform(self, x, padding_mask):
        """The transformer blocks (and pre-LN's final LayerNorm) over embedded `x`.
        Public with `embed` so a task can insert vectors between them (prompt tuning)."""
        for i in self._block_order:
            x = self.transformer_layers[i](x, padding_mask=padding_mask)  # (batch, seq, hidden)
        if self.final_layer_norm is not None:
            x = self.final_layer_norm(x)
        return x

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
            "num_segments": self.num_segments,
            "normalize_first": self.normalize_first,
            "embedding_dim": self.embedding_dim,
            "share_layers": self.share_layers,
            "conv_width": self.conv_width,
            "layer_norm_epsilon": self.layer_norm_epsilon,
            "activation": self.activation,
        }

    @classmethod
    def from_config(cls, config: dict) -> "BertEncoder":
        return cls(**config)

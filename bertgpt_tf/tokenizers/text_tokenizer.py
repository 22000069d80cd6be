"""TextTokenizer: the input handling every in-graph tokenizer shares."""

import tensorflow as tf


class TextTokenizer(tf.Module):
    """Base of the in-graph tokenizers (WordPiece, SentencePiece, char).

    `tokenize` takes a scalar or a (batch,) string tensor; `detokenize` takes (tokens,),
    (batch, tokens) ragged or padded, or (batch, words, pieces). Subclasses implement
    the batched cores: `_tokenize_batch((batch,) strings) -> (batch, tokens) ragged int32`
    and `_detokenize_batch((batch, tokens) ragged int32) -> (batch,) strings`.
    """

    def tokenize(self, strings: tf.Tensor) -> tf.RaggedTensor:
        """Token ids of each string: (batch,) tf.string -> (batch, tokens) ragged int32.

        A scalar string gives a 1-D (tokens,) tensor.
        """
        strings = tf.convert_to_tensor(strings, tf.string)
        if strings.shape.rank == 0:
            return self.tokenize(strings[tf.newaxis])[0]
        if strings.shape.rank != 1:
            raise ValueError(f"Expected a scalar or 1-D string tensor, got shape {strings.shape}.")
        return self._tokenize_batch(strings)

    def detokenize(self, ids: tf.Tensor | tf.RaggedTensor) -> tf.Tensor:
        """Strings from ids: (batch, tokens) -> (batch,); (tokens,) -> scalar."""
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.convert_to_tensor(ids)
        if ids.shape.rank == 1:
            return self.detokenize(ids[tf.newaxis])[0]
        if ids.shape.rank == 3:
            ids = ids.merge_dims(1, 2)
        if ids.shape.rank != 2:
            raise ValueError(f"Expected ids of rank 1, 2 or 3, got shape {ids.shape}.")
        if not isinstance(ids, tf.RaggedTensor):
            ids = tf.RaggedTensor.from_tensor(ids)
        return self._detokenize_batch(tf.cast(ids, tf.int32))

    def _tokenize_batch(self, strings: tf.Tensor) -> tf.RaggedTensor:
        raise NotImplementedError


def nul_as_replacement(strings: tf.Tensor) -> tf.Tensor:
    """NUL read as U+FFFD: TF-Text's `regex_split` cuts a string at NUL and
    `tf.strings.lower` empties it, which would lose the rest of the text silently."""
    return tf.strings.regex_replace(strings, r"\x00", "\ufffd")

    def _detokenize_batch(self, ids: tf.RaggedTensor) -> tf.Tensor:
        raise NotImplementedError

"""SoftPrompt: the learned prefix of prompt tuning (`TextClassifier(prefix_length=...)`;
the other parameter-efficient methods are in `bertgpt_tf.training.peft`)."""

import keras


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class SoftPrompt(keras.layers.Layer):
    """Inserts `prefix_length` learned vectors after the first position ([CLS]) of
    embedded inputs and widens the padding mask to match (prompt tuning, Lester et al.
    2021): the frozen encoder reads them as if they were tokens."""

    def __init__(self, prefix_length: int, **kwargs):
        super().__init__(**kwargs)
        self.prefix_length = prefix_length

    def build(self, embedded_shape, padding_mask_shape=None):
        self.prompt = self.add_weight(
            shape=(self.prefix_length, embedded_shape[-1]),
            initializer=keras.initializers.TruncatedNormal(stddev=0.02),  # BERT's
            name="prompt",
        )

    def call(self, embedded, padding_mask):
        batch = keras.ops.shape(embedded)[0]
        prompt = keras.ops.cast(self.prompt, embedded.dtype)[None]
        prompt = keras.ops.broadcast_to(prompt, (batch, self.prefix_length, prompt.shape[-1]))
        x = keras.ops.concatenate([embedded[:, :1], prompt, embedded[:, 1:]], axis=1)
        ones = keras.ops.ones((batch, self.prefix_length), padding_mask.dtype)
        mask = keras.ops.concatenate([padding_mask[:, :1], ones, padding_mask[:, 1:]], axis=1)
        return x, mask

    def compute_output_spec(self, embedded, padding_mask):
        def grown(spec):
            length = None if spec.shape[1] is None else spec.shape[1] + self.prefix_length
            return keras.KerasTensor((spec.shape[0], length, *spec.shape[2:]), spec.dtype)

        return grown(embedded), grown(padding_mask)

    def get_config(self) -> dict:
        return {**super().get_config(), "prefix_length": self.prefix_length}

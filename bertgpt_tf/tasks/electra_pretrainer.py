"""ElectraPretrainer: a small MLM generator and a replaced-token discriminator, trained jointly."""

import keras
from keras import ops

from bertgpt_tf.models.bert_encoder import BertEncoder, bert_kernel_initializer
from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer
from bertgpt_tf.tasks.joint_loss_model import JointLossModel, weighted_mean
from bertgpt_tf.tasks.legacy_files import backbone_from_config


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class ElectraPretrainer(JointLossModel):
    """ELECTRA (Clark et al., 2020) over the shared `BertEncoder` and MLM head.

    The generator is a narrower `BertEncoder` (width, heads and feed-forward times
    `generator_fraction`, same depth) with a tied MLM head; it shares the
    discriminator's token embedding (projected down to its width, as ALBERT's
    factorized embedding does). Each step:

    1. the generator predicts the masked tokens (MLM loss);
    2. one token per masked position is sampled from its softmax (no gradient flows
       back through the sample) and written into the input;
    3. the discriminator labels every real token "replaced" or "original" (binary
       cross-entropy, weighted by `discriminator_weight`, 50 in the paper). A sample
       equal to the original counts as original.

    The discriminator is `backbone`: what fine-tuning loads (`--init_from`) and what the
    export's `encode` runs. `generator` is a `BertPretrainer` and serves `fill_mask`.

    Inputs: as `BertPretrainer` (`token_ids` already masked, `segment_ids`,
    `padding_mask`, `mask_positions`); targets `{"mlm": original ids}` weighted by
    `{"mlm": mask weights}`, as the MLM pipeline makes them. Padded prediction slots
    have position 0 ([CLS], never masked) and are never written.

    `fit` is Keras' own; only the loss and the metrics are written here
    (`JointLossModel`): the targets of the discriminator exist only after sampling.

    Metrics: `loss`, `mlm_loss`, `mlm_accuracy` (generator), `rtd_loss`,
    `rtd_accuracy` (all real tokens), `replaced_accuracy` and `original_accuracy`
    (discriminator accuracy on replaced and on original tokens), `replaced_fraction`.

    Args:
        backbone: the discriminator `BertEncoder`.
        generator_fraction: generator width / discriminator width (paper: 1/4-1/2).
        discriminator_weight: weight of the replaced-token loss against the MLM loss.
        seed: seed of the sampling.
    """

    def __init__(
        self,
        backbone: BertEncoder,
        generator_fraction: float = 0.25,
        discriminator_weight: float = 50.0,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not 0 < generator_fraction <= 1:
            raise ValueError(f"generator_fraction must be in (0, 1], got {generator_fraction}")
        heads = max(1, round(backbone.num_heads * generator_fraction))
        generator_encoder = BertEncoder(
            vocabulary_size=backbone.vocabulary_size,
            num_layers=backbone.num_layers,
            num_heads=heads,
            hidden_dim=heads * (backbone.hidden_dim // backbone.num_heads),
            intermediate_dim=max(1, round(backbone.intermediate_dim * generator_fraction)),
            dropout=backbone.dropout,
            max_sequence_length=backbone.max_sequence_length,
            num_segments=backbone.num_segments,
            normalize_first=backbone.normalize_first,
            conv_width=backbone.conv_width,
            layer_norm_epsilon=backbone.layer_norm_epsilon,
            activation=backbone.activation,
            token_embedding=backbone.token_embedding,
            name="generator_encoder",
        )
        self.backbone = backbone
        backbone.pooled_dense.trainable = False  # nothing reads the pooler: no gradient
        self.generator = BertPretrainer(generator_encoder, "none", name="generator")
        self.discriminator_head = keras.Sequential(
            [
                keras.layers.Dense(
                    backbone.hidden_dim, "gelu", kernel_initializer=bert_kernel_initializer()
                ),
                keras.layers.Dense(1, kernel_initializer=bert_kernel_initializer()),
            ],
            name="discriminator_head",
        )
        self.discriminator_head.build((None, None, backbone.hidden_dim))
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.generator_fraction = generator_fraction
        self.discriminator_weight = discriminator_weight
        self.seed = seed
        self.track(
            ("mlm_loss", "rtd_loss", "replaced_fraction"),
            ("mlm_accuracy", "rtd_accuracy", "replaced_accuracy", "original_accuracy"),
        )

    def call(self, inputs, training=False):
        """`mlm` generator logits (batch, predictions, vocab), `rtd` discriminator logits
        (batch, seq) and the `corrupted_ids` (batch, seq) the discriminator saw."""
        mlm_logits = self.generator(inputs, training=training)["mlm"]
        samples = keras.random.categorical(
            ops.reshape(ops.stop_gradient(mlm_logits), (-1, ops.shape(mlm_logits)[-1])),
            1,
            seed=self.seed_generator,
            dtype="int32",
        )
        samples = ops.reshape(samples, ops.shape(inputs["mask_positions"]))
        corrupted = scatter_predictions(inputs["token_ids"], inputs["mask_positions"], samples)
        encoded = self.backbone(
            {
                "token_ids": corrupted,
                "segment_ids": inputs["segment_ids"],
                "padding_mask": inputs["padding_mask"],
            },
            training=training,
        )
        rtd_logits = ops.squeeze(self.discriminator_head(encoded["sequence_output"]), -1)
        return {
            "mlm": ops.cast(mlm_logits, "float32"),
            "rtd": ops.cast(rtd_logits, "float32"),
            "corrupted_ids": corrupted,
        }

    def _targets(self, x, y, y_pred):
        original = scatter_predictions(x["token_ids"], x["mask_positions"], y["mlm"])
        replaced = ops.cast(ops.not_equal(y_pred["corrupted_ids"], original), "float32")
        return replaced, ops.cast(x["padding_mask"], "float32")

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        mlm_loss = weighted_mean(
            keras.losses.sparse_categorical_crossentropy(y["mlm"], y_pred["mlm"], from_logits=True),
            sample_weight["mlm"],
        )
        replaced, real = self._targets(x, y, y_pred)
        rtd_losses = keras.losses.binary_crossentropy(
            replaced[..., None], y_pred["rtd"][..., None], from_logits=True
        )
        rtd_loss = weighted_mean(rtd_losses, real)
        components = {
            "mlm_loss": mlm_loss,
            "rtd_loss": rtd_loss,
            "replaced_fraction": weighted_mean(replaced, real),
        }
        return self.total(mlm_loss + self.discriminator_weight * rtd_loss, components)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        replaced, real = self._targets(x, y, y_pred)
        predicted = ops.cast(y_pred["rtd"] > 0, "float32")
        correct = ops.cast(ops.equal(predicted, replaced), "float32")
        mlm_correct = ops.cast(
            ops.equal(ops.argmax(y_pred["mlm"], -1), ops.cast(y["mlm"], "int64")), "float32"
        )
        for name, hits, weight in (
            ("mlm_accuracy", mlm_correct, sample_weight["mlm"]),
            ("rtd_accuracy", correct, real),
            ("replaced_accuracy", correct, real * replaced),
            ("original_accuracy", correct, real * (1 - replaced)),
        ):
            self.accuracies[name].update_state(hits, sample_weight=weight)
        return self.results()

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "backbone": keras.layers.serialize(self.backbone),
            "generator_fraction": self.generator_fraction,
            "discriminator_weight": self.discriminator_weight,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config: dict) -> "ElectraPretrainer":
        return cls(**backbone_from_config(config))


def scatter_predictions(token_ids, mask_positions, values):
    """`token_ids` (batch, seq) with `values` (batch, predictions) written at
    `mask_positions`; slots at position 0 (padding: [CLS] is never masked) write nothing."""
    written = ops.one_hot(mask_positions, ops.shape(token_ids)[1], dtype="int32")
    written = written * ops.cast(mask_positions > 0, "int32")[..., None]  # (b, p, seq)
    hit = ops.max(written, axis=1)
    new = ops.sum(written * ops.cast(values, "int32")[..., None], axis=1)
    return token_ids * (1 - hit) + new

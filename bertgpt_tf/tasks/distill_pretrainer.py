"""DistillPretrainer: a shallower BERT student trained on a frozen teacher (DistilBERT)."""

import keras
from keras import ops

from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer
from bertgpt_tf.tasks.joint_loss_model import JointLossModel, weighted_mean


@keras.saving.register_keras_serializable(package="bertgpt_tf")
class DistillPretrainer(JointLossModel):
    """DistilBERT (Sanh et al., 2019) over the shared `BertPretrainer`.

    The student is the teacher's encoder with `student_layers` blocks (and, with
    `student_hidden_dim`, a narrower residual stream), initialised from the teacher:
    embeddings, MLM head and pooler copied, block `i` from teacher block
    `i * teacher_layers // student_layers` (one of two for a half-depth student). A
    narrower student takes the leading slice of every teacher weight ("weight
    selection", Xu et al. 2023: the first `student_hidden_dim` features, heads and FFN
    units), keeps the teacher's head width, and its hidden states are projected up to
    the teacher's width by a learned Dense for the cosine loss. The teacher is frozen.
    On the MLM batches the loss is

        soft_weight * T^2 * KL(softmax(teacher / T) || softmax(student / T))   (masked slots)
      + mlm_weight  * cross-entropy(student, original token)                 (masked slots)
      + cosine_weight * (1 - cos(student hidden, teacher hidden))            (real tokens)

    with DistilBERT's weights 5 / 2 / 1 by default. `fit` is Keras' own; only the loss
    and metrics are written here (`JointLossModel`).

    `backbone` is the student's encoder (what fine-tuning loads and the export's
    `encode` runs) and `student` its `BertPretrainer` (whose MLM head serves
    `fill_mask`); `teacher` is the frozen teacher.

    Inputs and targets: as `BertPretrainer` with `pair_objective="none"`.

    Args:
        teacher: a trained `BertPretrainer`.
        student_layers: depth of the student.
        temperature: softmax temperature `T` of the soft targets.
        soft_weight, mlm_weight, cosine_weight: the loss weights. A teacher imported
            without an MLM head (its head is untrained) is distilled with
            `soft_weight=0`: its hidden states are what it knows.
        student_hidden_dim: the student's width; 0: the teacher's. Heads keep the
            teacher's head size; the FFN keeps the teacher's ratio.
    """

    def __init__(
        self,
        teacher: BertPretrainer,
        student_layers: int,
        temperature: float = 2.0,
        soft_weight: float = 5.0,
        mlm_weight: float = 2.0,
        cosine_weight: float = 1.0,
        student_hidden_dim: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        teacher_encoder = teacher.backbone
        if not 0 < student_layers <= teacher_encoder.num_layers:
            raise ValueError(
                f"student_layers={student_layers}: the teacher has "
                f"{teacher_encoder.num_layers} layers"
            )
        sizes = {
            **teacher_encoder.get_config(),
            "num_layers": student_layers,
            "name": "student_encoder",
        }
        sizes.pop("trainable", None)
        width = student_hidden_dim or teacher_encoder.hidden_dim
        head_size = teacher_encoder.hidden_dim // teacher_encoder.num_heads
        if width > teacher_encoder.hidden_dim or width % head_size:
            raise ValueError(
                f"student_hidden_dim={width} must be a multiple of the teacher's head size "
                f"{head_size} and at most its width {teacher_encoder.hidden_dim}"
            )
        if width != teacher_encoder.hidden_dim:
            ratio = teacher_encoder.intermediate_dim // teacher_encoder.hidden_dim
            sizes.update(hidden_dim=width, num_heads=width // head_size,
                         intermediate_dim=ratio * width)  # fmt: skip
            if teacher_encoder.embedding_dim:  # factorized: keep the embedding width
                sizes["embedding_dim"] = min(teacher_encoder.embedding_dim, width)
        student = BertPretrainer(
            BertEncoder(**sizes),
            "none",
            teacher.tie_word_embeddings,
            name="student",
        )
        _copy_from_teacher(teacher, student)
        # Student hidden states -> the teacher's width, for the cosine loss only.
        self.hidden_projection = None
        if width != teacher_encoder.hidden_dim:
            self.hidden_projection = keras.layers.Dense(
                teacher_encoder.hidden_dim, name="hidden_projection"
            )
            self.hidden_projection.build((None, None, width))
        teacher.trainable = False
        self.teacher = teacher
        self.student = student
        self.backbone = student.backbone
        self.student_layers = student_layers
        self.temperature = temperature
        self.soft_weight = soft_weight
        self.mlm_weight = mlm_weight
        self.cosine_weight = cosine_weight
        self.student_hidden_dim = student_hidden_dim
        self.track(("soft_loss", "mlm_loss", "cosine_loss"), ("mlm_accuracy", "teacher_agreement"))

    def call(self, inputs, training=False):
        """Student and teacher `mlm` logits and sequence outputs (float32)."""
        encoder_inputs = {k: inputs[k] for k in ("token_ids", "segment_ids", "padding_mask")}
        student_hidden = self.backbone(encoder_inputs, training=training)
        teacher_hidden = self.teacher.backbone(encoder_inputs, training=False)
        positions = inputs["mask_positions"]
        student_logits = self.student.mlm_head(
            student_hidden["sequence_output"], mask_positions=positions
        )
        teacher_logits = self.teacher.mlm_head(
            teacher_hidden["sequence_output"], mask_positions=positions
        )
        as_float = lambda t: ops.cast(t, "float32")  # noqa: E731
        hidden = student_hidden["sequence_output"]
        if self.hidden_projection is not None:  # (batch, seq, student) -> (..., teacher)
            hidden = self.hidden_projection(hidden)
        return {
            "mlm": as_float(student_logits),
            "teacher_mlm": ops.stop_gradient(as_float(teacher_logits)),
            "hidden": as_float(hidden),
            "teacher_hidden": ops.stop_gradient(as_float(teacher_hidden["sequence_output"])),
        }

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        weight = sample_weight["mlm"]
        t = self.temperature
        teacher_probs = ops.softmax(y_pred["teacher_mlm"] / t, axis=-1)
        student_log_probs = ops.log_softmax(y_pred["mlm"] / t, axis=-1)
        teacher_log_probs = ops.log_softmax(y_pred["teacher_mlm"] / t, axis=-1)
        kl = ops.sum(teacher_probs * (teacher_log_probs - student_log_probs), axis=-1)
        cosine = ops.sum(
            ops.normalize(y_pred["hidden"], axis=-1)
            * ops.normalize(y_pred["teacher_hidden"], axis=-1),
            axis=-1,
        )
        hard = keras.losses.sparse_categorical_crossentropy(
            y["mlm"], y_pred["mlm"], from_logits=True
        )
        components = {
            "soft_loss": weighted_mean(kl, weight) * t * t,
            "mlm_loss": weighted_mean(hard, weight),
            "cosine_loss": weighted_mean(1.0 - cosine, x["padding_mask"]),
        }
        loss = (
            self.soft_weight * components["soft_loss"]
            + self.mlm_weight * components["mlm_loss"]
            + self.cosine_weight * components["cosine_loss"]
        )
        return self.total(loss, components)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        predicted = ops.argmax(y_pred["mlm"], -1)
        for name, target in (
            ("mlm_accuracy", ops.cast(y["mlm"], "int64")),
            ("teacher_agreement", ops.argmax(y_pred["teacher_mlm"], -1)),
        ):
            hits = ops.cast(ops.equal(predicted, target), "float32")
            self.accuracies[name].update_state(hits, sample_weight=sample_weight["mlm"])
        return self.results()

    def get_config(self) -> dict:
        return {
            "name": self.name,
            "trainable": self.trainable,
            "teacher": keras.layers.serialize(self.teacher),
            "student_layers": self.student_layers,
            "temperature": self.temperature,
            "soft_weight": self.soft_weight,
            "mlm_weight": self.mlm_weight,
            "cosine_weight": self.cosine_weight,
            "student_hidden_dim": self.student_hidden_dim,
        }

    @classmethod
    def from_config(cls, config: dict) -> "DistillPretrainer":
        config = dict(config)
        config["teacher"] = keras.layers.deserialize(config["teacher"])
        return cls(**config)


def _copy_from_teacher(teacher: BertPretrainer, student: BertPretrainer) -> None:
    """Student <- teacher: every non-block layer by name, and evenly spaced blocks; each
    weight cut to the student's shape (its leading slice: the identity at equal width)."""
    t_enc, s_enc = teacher.backbone, student.backbone
    for name in (
        "token_embedding",
        "position_embedding",
        "segment_embedding",
        "embeddings_layer_norm",
        "embeddings_projection",
        "embeddings_conv",
        "final_layer_norm",
        "pooled_dense",
    ):
        source = getattr(t_enc, name, None)
        if source is not None:
            _select(getattr(s_enc, name), source)
    _select(student.mlm_head, teacher.mlm_head)
    stride = len(t_enc.transformer_layers) / len(s_enc.transformer_layers)
    for i, block in enumerate(s_enc.transformer_layers):
        _select(block, t_enc.transformer_layers[int(i * stride)])


def _select(target: keras.layers.Layer, source: keras.layers.Layer) -> None:
    """`target`'s weights <- the leading slice of `source`'s, weight by weight."""
    target.set_weights(
        [
            w[tuple(slice(0, n) for n in own.shape)]
            for w, own in zip(source.get_weights(), target.weights, strict=True)
        ]
    )

"""Run in a subprocess: train a tiny BertPretrainer on saved batches over N logical CPUs.

    python replica_worker.py <batches.npz> <num_devices> <out.json> <optimizer>

optimizer "product": `make_optimizer` as run_train uses it. "exact": the same AdamW
class with epsilon 1 (no sqrt(v) amplification of round-off), a clipnorm small enough
that clipping acts on every step, and lr 1 so weights still move ~1e-3 per step.

Prints per-step losses (one step per epoch, so each history entry is one step's loss).
"""

import json
import sys

import numpy as np
import tensorflow as tf


def main(batches_path: str, num_devices: int, out_path: str, optimizer: str) -> None:
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)]
    )
    import keras

    from bertgpt_tf.models.bert_encoder import BertEncoder
    from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer
    from bertgpt_tf.training.fit import make_strategy
    from bertgpt_tf.training.optimizer import ReplicaConsistentAdamW, make_optimizer

    data = dict(np.load(batches_path))
    steps = data["token_ids"].shape[0]
    x = {k: data[k] for k in ("token_ids", "segment_ids", "padding_mask", "mask_positions")}
    y = {"mlm": data["mask_ids"], "nsp": data["nsp"]}
    sample_weight = {"mlm": data["mask_weights"], "nsp": np.ones_like(data["nsp"], "float32")}
    dataset = tf.data.Dataset.from_tensor_slices((x, y, sample_weight))  # one global batch each

    keras.utils.set_random_seed(0)
    strategy = make_strategy()
    with strategy.scope():
        encoder = BertEncoder(
            vocabulary_size=int(data["vocabulary_size"]), num_layers=2, num_heads=2,
            hidden_dim=32, intermediate_dim=64, dropout=0.0, max_sequence_length=64,
        )  # fmt: skip
        model = BertPretrainer(encoder, "nsp")
        if optimizer == "exact":
            model.compile(ReplicaConsistentAdamW(1.0, epsilon=1.0, global_clipnorm=0.05))
        else:
            model.compile(make_optimizer(1e-3, warmup_steps=2, total_steps=steps))
    initial = [np.array(w) for w in model.get_weights()]
    history = model.fit(dataset, epochs=steps, steps_per_epoch=1, verbose=0, shuffle=False)
    moved = max(
        float(np.abs(w - w0).max()) for w, w0 in zip(model.get_weights(), initial, strict=True)
    )
    with open(out_path, "w") as f:
        json.dump(
            {
                "replicas": strategy.num_replicas_in_sync,
                "loss": history.history["loss"],
                "mlm_accuracy": history.history["mlm_accuracy"],
                "moved": moved,
            },
            f,
        )
    np.savez(out_path + ".npz", *model.get_weights())


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])

"""Multi-worker training: `tf.distribute.MultiWorkerMirroredStrategy` over the cluster that
`TF_CONFIG` (or SLURM) describes, and the two Keras 3 pieces that break `model.fit` under it.

One process per host (per worker). Every worker runs the same command; the global batch
(`--batch_size`) is split across all replicas of all workers, as under MirroredStrategy.
The chief (task `chief`, else `worker` 0) writes the run dir and the exports; every other
worker writes into `<model_dir>/workers/<type>-<index>` (its logs, its copy of the
vocabulary and config) and restores from the chief's backup, so a restarted job resumes
every worker from the same weights. `model_dir` must therefore be on a filesystem every
worker sees (NFS, GCS, ...), as for Keras' own `BackupAndRestore`.

Why the overrides (`_patch_keras`): with Keras 3 (3.15 here) on TF 2.21, `model.fit`
under MultiWorkerMirroredStrategy fails (keras-team/keras#20585, tensorflow/tensorflow#72388,
both open) in two places of `keras/src/backend/tensorflow/trainer.py`:
1. `_maybe_symbolic_build` averages the first batch across replicas with one
   `strategy.reduce("MEAN", <nested batch>)` to get a batch to build the model on. The
   collective strategy's `reduce` takes one tensor, not a structure: "Attempt to convert a
   value (PerReplica ...) with an unsupported type". A batch of this replica is all
   the build needs (its shapes and dtypes); averaging token ids was never meaningful.
2. `reduce_per_replica` reduces each step's logs across workers with
   `strategy.reduce("MEAN", v, axis=0)`, and the logs are scalars: "Invalid reduction
   dimension 0 for input with 0 dimensions". Here they are averaged over replicas
   (`axis=None`), which is what the single-host path does.
Both are replaced only when a multi-worker strategy is made; the test
`tests/bertgpt_tf/training/test_cluster.py` runs `fit` on 2 workers without them to
show the failure is still upstream, and with them against 1 process.
"""

import contextlib
import json
import os
import socket

import tensorflow as tf
from absl import logging

_strategy: tf.distribute.Strategy | None = None


def connect(resolver: str = "") -> tf.distribute.Strategy | None:
    """The multi-worker strategy when the environment describes a cluster of more than
    one task (`TF_CONFIG`, or `resolver="slurm"`), made once per process; None on one
    machine. Must run before TensorFlow's first op (collectives are set up at start)."""
    global _strategy
    if _strategy is not None:
        return _strategy
    cluster = _resolver(resolver)
    if cluster is None:
        return None
    _patch_keras()
    _strategy = tf.distribute.MultiWorkerMirroredStrategy(cluster_resolver=cluster)
    logging.info(
        "multi-worker: %s %d of %s, %d replicas in sync",
        cluster.task_type, cluster.task_id, _job_sizes(cluster), _strategy.num_replicas_in_sync,
    )  # fmt: skip
    return _strategy


def _resolver(kind: str):
    if kind == "slurm":
        if "SLURM_PROCID" not in os.environ:
            raise ValueError(
                "--cluster_resolver=slurm: not inside a SLURM job (no SLURM_PROCID); "
                "launch with srun, one task per host"
            )
        return tf.distribute.cluster_resolver.SlurmClusterResolver()
    if not os.environ.get("TF_CONFIG"):
        if kind == "tf_config":
            raise ValueError("--cluster_resolver=tf_config: TF_CONFIG is not set")
        return None
    try:
        tasks = json.loads(os.environ["TF_CONFIG"])["cluster"]
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(
            f"TF_CONFIG is not a cluster description ({e}): {os.environ['TF_CONFIG']!r}"
        ) from None
    if sum(len(addresses) for addresses in tasks.values()) < 2:
        return None  # a cluster of one: MirroredStrategy's numbers, without collectives
    return tf.distribute.cluster_resolver.TFConfigClusterResolver()


def _job_sizes(cluster) -> str:
    return ", ".join(f"{len(v)} {k}" for k, v in cluster.cluster_spec().as_dict().items())


def strategy() -> tf.distribute.Strategy | None:
    """The multi-worker strategy `connect` made, or None."""
    return _strategy


def is_chief() -> bool:
    """True on one machine, and on the cluster's chief (task `chief`, else `worker` 0:
    TensorFlow's own rule, which the strategy exposes as `should_checkpoint`)."""
    return _strategy is None or _strategy.extended.should_checkpoint


WORKERS_DIR = "workers"


def worker_run_dir(run_dir: str) -> str:
    """Where this process writes: the run dir on the chief, else the worker's own folder
    inside it (so no two processes write one file)."""
    if is_chief():
        return run_dir
    cluster = _strategy.cluster_resolver
    return os.path.join(run_dir, WORKERS_DIR, f"{cluster.task_type}-{cluster.task_id}")


def chief_run_dir(run_dir: str) -> str:
    """The chief's run dir from this worker's (`worker_run_dir`)."""
    if is_chief():
        return run_dir
    return os.path.dirname(os.path.dirname(os.path.normpath(run_dir)))


def agreed_mean(value: float) -> float:
    """`value`'s mean over the workers (each must call this at the same step), so that
    decisions taken from a clock (stop now; where the learning rate ends) are the same
    on every worker; `value` itself on one machine."""
    if _strategy is None:
        return value
    return float(_strategy.reduce("MEAN", tf.constant(value, tf.float64), axis=None))


def shard_by_data(*datasets):
    """On a cluster, `datasets` (None passes) sharded by data, not by file: every worker
    runs the whole pipeline and keeps its replicas' rows of each global batch, so a step
    trains on the batch one process would (same order, masks and loss), whatever the
    number of files. File sharding would skip the duplicate reading, but changes the
    order and needs at least one file per worker. Unchanged on one machine."""
    if _strategy is None:
        return datasets
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return tuple(d if d is None else d.with_options(options) for d in datasets)


def _patch_keras() -> None:
    """Replaces the two pieces of Keras' TF trainer that fail under multi-worker (see the
    module docstring). Idempotent."""
    from keras.src.backend.tensorflow import trainer

    if getattr(trainer, "_bertgpt_multi_worker", False):
        return
    reduce_per_replica = trainer.reduce_per_replica

    def multi_worker_reduce(values, strategy, reduction):
        if reduction in ("auto", "mean") and trainer._collective_all_reduce_multi_worker(strategy):
            return tf.nest.map_structure(lambda v: strategy.reduce("MEAN", v, axis=None), values)
        return reduce_per_replica(values, strategy, reduction)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(
                    lambda x: (
                        self.distribute_strategy.experimental_local_results(x)[0]
                        if isinstance(x, tf.distribute.DistributedValues)
                        else x
                    ),
                    next(it),
                )
                break
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    trainer.reduce_per_replica = multi_worker_reduce
    trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
    trainer._bertgpt_multi_worker = True


def free_ports(n: int) -> list[int]:
    """`n` free TCP ports on 127.0.0.1, for a cluster of local workers (tests, benchmarks)."""
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]


def local_tf_config(ports: list[int], index: int) -> str:
    """`TF_CONFIG` of worker `index` of a cluster of workers on 127.0.0.1 at `ports`."""
    workers = [f"127.0.0.1:{p}" for p in ports]
    return json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})

"""The backup a killed run resumes from, written so that a kill never breaks it."""

import glob
import json
import os

import keras
import numpy as np

from bertgpt_tf.atomic_file import atomic_path, write_json

METADATA = "training_metadata.json"  # keras' name; `fit.resume_step` reads its "epoch"


class RunBackup(keras.callbacks.BackupAndRestore):
    """`BackupAndRestore` whose backup is complete at every moment, with the dropout RNG.

    Keras rewrites `latest.weights.h5` in place and then the metadata: a kill (or a
    full disk) during the first write leaves a run that cannot resume, one between the
    two replays an epoch with the next epoch's weights. Here each epoch's backup is new
    files, `epoch-<n>.weights.h5` and `epoch-<n>.seeds.npz` (the `SeedGenerator` states
    `save_weights` leaves out, so a resumed run draws the same dropout masks), each
    written then renamed; then `training_metadata.json`, the commit point, is replaced
    to name them; only then is the previous epoch's backup removed. A kill at any moment
    leaves the previous backup or the new one, whole. Backups of older versions
    (`latest.weights.h5`, `seed_states.npz`) still restore.

    Args:
        backup_dir: the run's backup folder (kept after training: `delete_checkpoint`
            is off, so `--task=export` and a longer `--steps` can reuse it).
        save: False on a cluster's non-chief worker, which restores from the chief's
            backup (the same weights on every worker) and writes none of its own.
    """

    def __init__(self, backup_dir: str, save: bool = True):
        super().__init__(backup_dir, delete_checkpoint=False)
        self.save = save

    def _load_model(self):
        path = os.path.join(self.backup_dir, METADATA)
        if not os.path.exists(path):
            return
        with open(path) as f:
            metadata = json.load(f)
        optimizer = self.model.optimizer
        if optimizer is not None and not optimizer.built:  # its variables, to load into
            optimizer.build(self.model.trainable_variables)
        self.model.load_weights(self._file(metadata.get("weights", "latest.weights.h5")))
        seeds = self._file(metadata.get("seeds", "seed_states.npz"))
        if os.path.exists(seeds):
            saved = np.load(seeds)
            for name, variable in self._seed_states().items():
                if name in saved:
                    variable.assign(saved[name])
        self.model._initial_epoch = metadata["epoch"]

    def _save_model(self):
        if not self.save:
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        epoch = self._current_epoch
        files = {
            "weights": f"epoch-{epoch:06d}.weights.h5",
            "seeds": f"epoch-{epoch:06d}.seeds.npz",
        }
        with atomic_path(self._file(files["weights"])) as staging:
            self.model.save_weights(staging)
        with atomic_path(self._file(files["seeds"])) as staging:
            states = self._seed_states().items()
            np.savez(staging, **{k: keras.ops.convert_to_numpy(v) for k, v in states})
        metadata = {"epoch": epoch, "batch": self._last_batch_seen, **files}
        write_json(self._file(METADATA), metadata)  # the new backup is complete from here
        stale = ("epoch-*", ".tmp-*", "latest.weights.h5*", "seed_states.npz")  # and older kinds
        for old in (path for pattern in stale for path in glob.glob(self._file(pattern))):
            if os.path.basename(old) not in files.values():
                os.remove(old)

    def _file(self, name: str) -> str:
        return os.path.join(self.backup_dir, name)

    def _seed_states(self) -> dict:
        return {v.path: v for v in self.model.variables if "seed_generator_state" in v.path}

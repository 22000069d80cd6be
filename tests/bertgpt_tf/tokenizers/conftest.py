"""Save a tokenizer in a SavedModel and use it from a fresh process: shared by the
tokenizer tests."""

import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

RELOAD = """
import json, sys
import tensorflow as tf
if sys.argv[3] == "1":
    import tensorflow_text  # registers the TF-Text ops; nothing else is imported
module = tf.saved_model.load(sys.argv[1])
ids, lengths = module.tokenize(tf.constant(json.loads(sys.argv[2])))
strings = module.detokenize(ids)
ids = [row[:n] for row, n in zip(ids.numpy().tolist(), lengths.numpy().tolist())]
print(json.dumps([ids, [s.decode() for s in strings.numpy().tolist()]]))
"""


@pytest.fixture
def reload_tokenizer_in_fresh_process(tmp_path):
    """`(tokenizer, strings, import_text=True) -> (asset files, ids, detokenized)`.

    Saves a module with `tokenize` (padded with `pad_id`, plus lengths) and `detokenize`
    signatures, then loads it in a new Python that imports only tensorflow (and
    tensorflow_text when `import_text`), from another working directory.
    """

    def reload(tokenizer, strings: list[str], import_text: bool = True):
        module = tf.Module()
        module.tokenizer = tokenizer

        @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
        def tokenize(strings):
            ids = tokenizer.tokenize(strings)
            return ids.to_tensor(tokenizer.pad_id), ids.row_lengths()

        @tf.function(input_signature=[tf.TensorSpec([None, None], tf.int32)])
        def detokenize(ids):
            return tokenizer.detokenize(ids)

        module.tokenize, module.detokenize = tokenize, detokenize
        export_dir = str(tmp_path / "saved_model")
        tf.saved_model.save(module, export_dir)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
        command = [
            sys.executable,
            "-c",
            RELOAD,
            export_dir,
            json.dumps(strings),
            str(int(import_text)),
        ]
        reloaded = subprocess.run(
            command, capture_output=True, text=True, cwd=tmp_path, env=env, check=True, timeout=120
        )
        ids, detokenized = json.loads(reloaded.stdout.strip().splitlines()[-1])
        return os.listdir(os.path.join(export_dir, "assets")), ids, detokenized

    return reload

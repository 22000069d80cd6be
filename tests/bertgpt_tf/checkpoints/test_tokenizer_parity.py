"""Our in-graph WordPiece tokenizer against Hugging Face `tokenizers` on the same
`tokenizer.json` (MiniLM's), over real text in ../shared/data and hostile strings."""

import os

import tensorflow as tf
from tokenizers import Tokenizer

from bertgpt_tf.checkpoints.import_checkpoint import read_checkpoint
from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer
from tests.real_text import sample_lines


def test_ids_equal_hf_tokenizers_on_real_text(minilm_dir):
    lines = sample_lines()
    assert len(lines) > 1500
    reference = Tokenizer.from_file(os.path.join(minilm_dir, "tokenizer.json"))
    reference.no_padding()
    reference.no_truncation()
    expected = [e.ids[1:-1] for e in reference.encode_batch(lines)]  # without [CLS] [SEP]
    checkpoint = read_checkpoint(minilm_dir)
    ours = WordPieceTokenizer(checkpoint.vocabulary, checkpoint.lower_case, normalization="bert")
    got = ours.tokenize(tf.constant(lines)).to_list()
    differ = [line for line, a, b in zip(lines, expected, got, strict=True) if a != b]
    assert differ == []
    # TF-Text's own normalizer (what vocabularies trained here use) differs on exactly
    # these: full-width punctuation and "ß" are rewritten by its NFKC case folding.
    fast = WordPieceTokenizer(checkpoint.vocabulary, checkpoint.lower_case)
    assert (
        ours.tokenize(tf.constant(["straße，"])).to_list()
        != fast.tokenize(tf.constant(["straße，"])).to_list()
    )

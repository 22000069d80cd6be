"""Our in-graph WordPiece tokenizer against Hugging Face `tokenizers` on the same
`tokenizer.json` (MiniLM's), over real text in ../shared/data and hostile strings."""

import glob
import gzip
import itertools
import os

import tensorflow as tf
from tokenizers import Tokenizer

from bertgpt_tf.checkpoints.import_checkpoint import read_checkpoint
from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer
from pipelines.sources import resolve_data_dir

# Accents and ß, full-width punctuation, emoji with skin tones and ZWJ sequences, CJK,
# Hangul, right-to-left scripts, words of more than 100 characters, control and format
# characters.
CONSTRUCTED = [
    "I love it 😀👍🏽 👨\u200d👩\u200d👧 family",
    "naïve café résumé Ærøskøbing Œuvre ß Straße",
    "x" * 150,
    "é" * 60,
    "supercalifragilisticexpialidocious" * 4,
    "日本語のテキスト、中文字符。한국어 텍스트",
    "Ａｂｃ　full-width，punctuation！",
    "tab\there\u200bzero\u00a0nbsp",
    "\x00nul\x07bell\ufffd",
    "مرحبا بالعالم",
    "שלום עולם",
]


def _lines(path: str, count: int, skip: int = 0) -> list[str]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [
            line.rstrip("\n") for line in itertools.islice(f, skip, skip + count) if line.strip()
        ]


def sample_lines() -> list[str]:
    data = resolve_data_dir()
    lines = _lines(os.path.join(data, "sst2", "dev.tsv"), 300, skip=1)
    lines += _lines(os.path.join(data, "chnsenticorp", "ChnSentiCorp_htl_all.csv"), 300, skip=1)
    lines += _lines(os.path.join(data, "multi30k", "test_2016_flickr.de.gz"), 300)
    lines += _lines(sorted(glob.glob(os.path.join(data, "wikipedia-en", "*.gz")))[0], 500)
    lines += _lines(os.path.join(data, "gutenberg-en", "gutenberg_en_00.txt.gz"), 300)
    return lines + CONSTRUCTED


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

"""Real text from ../shared/data (a few hundred lines of each corpus) and constructed
hostile strings, for tokenizer parity tests."""

import glob
import gzip
import itertools
import os

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

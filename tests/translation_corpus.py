"""A tiny synthetic parallel corpus in the Multi30k layout (word-for-word "German")."""

import gzip
import os
import random

LEXICON = {
    "a": "ein", "the": "der", "man": "Mann", "woman": "Frau", "dog": "Hund", "child": "Kind",
    "red": "rote", "small": "kleine", "big": "große", "runs": "läuft", "sits": "sitzt",
    "plays": "spielt", "in": "im", "on": "auf", "park": "Park", "street": "Straße",
    "snow": "Schnee", "water": "Wasser", "with": "mit", "ball": "Ball",
}  # fmt: skip
SPLIT_SIZES = {"train": 400, "val": 64, "test_2016_flickr": 12}


def write_parallel_corpus(folder: str, seed: int = 0) -> dict[str, tuple[list, list]]:
    """Writes `<split>.en.gz` / `<split>.de.gz` (val uncompressed); returns the pairs."""
    rng = random.Random(seed)
    os.makedirs(folder, exist_ok=True)
    words = sorted(LEXICON)
    splits = {}
    for split, size in SPLIT_SIZES.items():
        english = [" ".join(rng.choices(words, k=rng.randint(2, 6))) for _ in range(size)]
        english = [s[0].upper() + s[1:] + "." for s in english]
        german = [" ".join(LEXICON[w.lower().strip(".")] for w in s.split()) + "." for s in english]
        for language, lines in (("en", english), ("de", german)):
            path = os.path.join(folder, f"{split}.{language}" + ("" if split == "val" else ".gz"))
            opener = open if split == "val" else gzip.open
            with opener(path, "wt", encoding="utf-8") as f:
                f.write("\n".join(lines) + "\n")
        splits[split] = (english, german)
    return splits

"""Tiny generated data the reliability tools train and serve on: an English corpus in
the shared corpora's layout, a WordPiece vocabulary for it, and hostile texts."""

import os
import random

WORDS = (
    "the quick brown fox jumps over lazy dog while a cat sleeps near river bank under old "
    "bridge people walk across city streets every morning before work starts trains arrive "
    "late because snow covered tracks overnight children played football happily"
).split()

# What a stranger may send: each is one request row (str) or raw bytes.
HOSTILE_TEXTS: dict[str, str | bytes] = {
    "empty": "",
    "spaces": "   ",
    "whitespace_mix": " \t\n\r\u00a0\u2003\u3000 ",
    "mask_literal": "[MASK]",
    "masks_only": "[MASK] [MASK] [MASK]",
    "special_literals": "[CLS] [SEP] [PAD] [UNK] [MASK] <s> </s> <unk> <pad> <|endoftext|>",
    "long_100k": "the quick brown fox " * 5000,  # 100,000 characters
    "long_no_spaces": "x" * 100_000,
    "invalid_utf8": b"caf\xe9 \xff\xfe broken \xc3\x28 \xed\xa0\x80 end",
    "lone_continuation": b"\x80\x80\x80",
    "nul_bytes": "nul\x00inside\x00",
    "emoji_zwj": "family \U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466 "
    "flag \U0001f3f3\ufe0f\u200d\U0001f308 skin \U0001f44d\U0001f3fd",
    "rtl": "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd \u0645\u0631\u062d\u0628\u0627 "
    "\u202eevil\u202c",
    "combining": "e\u0301\u0301\u0301\u0301 Z\u0351\u0358\u0359\u035a\u035b",
    "cjk": "我爱北京天安门。今天天气很好！",
    "control_chars": "".join(chr(c) for c in range(1, 32)),
    "surrogate_escape": "\udcff".encode("utf-8", "surrogatepass"),
    "bom": "\ufeffthe river",
    "normal": "the quick brown fox jumps over the lazy dog.",
}


def hostile_bytes() -> dict[str, bytes]:
    """HOSTILE_TEXTS as UTF-8 (or raw) bytes: what a tf.string request carries."""
    return {k: v if isinstance(v, bytes) else v.encode("utf-8", "surrogatepass")
            for k, v in HOSTILE_TEXTS.items()}  # fmt: skip


def make_documents(num_documents: int, seed: int = 0) -> list[list[str]]:
    """Documents of 3-6 paragraphs of 1-3 sentences each."""
    rng = random.Random(seed)
    documents = []
    for d in range(num_documents):
        paragraphs = [f"Document {d} title"]
        for _ in range(rng.randint(3, 6)):
            sentences = [
                " ".join(rng.choices(WORDS, k=rng.randint(5, 14))).capitalize() + "."
                for _ in range(rng.randint(1, 3))
            ]
            paragraphs.append(" ".join(sentences))
        documents.append(paragraphs)
    return documents


def write_corpus(folder: str, num_documents: int = 120, seed: int = 0) -> str:
    """Two shards, one paragraph per line, a blank line between documents; the folder."""
    documents = make_documents(num_documents, seed)
    os.makedirs(folder, exist_ok=True)
    for shard in range(2):
        with open(os.path.join(folder, f"shard_{shard}.txt"), "w", encoding="utf-8") as f:
            f.write("".join("\n".join(doc) + "\n\n" for doc in documents[shard::2]))
    return folder


def write_vocabulary(path: str, texts: list[str], size: int = 400) -> str:
    """A WordPiece vocabulary trained on `texts`, written to `path`."""
    from bertgpt_tf.tokenizers.wordpiece_vocab import train_wordpiece_vocabulary
    from bertgpt_tf.tokenizers.wordpiece_vocab import write_vocabulary as write

    write(path, train_wordpiece_vocabulary(texts, vocabulary_size=size, progress=False))
    return path


def corpus_lines(num_documents: int = 120, seed: int = 0) -> list[str]:
    return [p for doc in make_documents(num_documents, seed) for p in doc]

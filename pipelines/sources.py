"""Find the corpus files and read them as paragraphs tagged with their document.

Corpus format: UTF-8 text (optionally gzipped), one paragraph per line, a blank line
between documents. Every element this module yields is a dict of scalar strings:
`text` (the paragraph), `previous` (the paragraph before it in the same document, or
"" for a document's first paragraph) and `document` (a key unique per document).
Validation holds out whole documents, chosen by a hash of the document key.
"""

import glob
import gzip
import os
import zlib

import tensorflow as tf
from absl import logging

from pipelines.sanitize import LineStats, sanitize_lines

DATA_DIR_ENV = "BERTGPT_DATA_DIR"
# Default pretraining corpus: the English text folders of ../shared/data.
PRETRAINING_CORPORA = ("wikipedia-en", "gutenberg-en", "brown", "bbc-news", "reuters21578")
TEXT_PATTERNS = ("*.txt", "*.txt.gz")
_HASH_BUCKETS = 10_000


def resolve_data_dir(data_dir: str = "") -> str:
    """`data_dir`, else $BERTGPT_DATA_DIR, else ../shared/data beside the project."""
    project_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidates = [
        ("--data_dir", data_dir),
        (f"${DATA_DIR_ENV}", os.environ.get(DATA_DIR_ENV, "")),
        ("default", os.path.join(project_root, "..", "shared", "data")),
    ]
    for source, path in candidates:
        if path:
            if not os.path.isdir(path):
                if source == "default":
                    break
                raise FileNotFoundError(f"Data directory from {source} does not exist: {path}")
            return os.path.normpath(path)
    raise FileNotFoundError(
        f"No data directory: pass --data_dir, set ${DATA_DIR_ENV}, or put the data in "
        f"{os.path.normpath(candidates[-1][1])}"
    )


def resolve_text_files(
    train_data: str = "", data_dir: str = "", corpora: tuple[str, ...] = PRETRAINING_CORPORA
) -> list[str]:
    """The sorted text files of `train_data` (file, folder or glob) or of `corpora`."""
    if train_data:
        targets = [train_data]
    else:
        root = resolve_data_dir(data_dir)
        targets = [os.path.join(root, name) for name in corpora]
    files = []
    for target in targets:
        files.extend(_expand(target))
    empty = [f for f in files if os.path.getsize(f) == 0]
    if empty:
        raise ValueError(f"Empty corpus file(s): {empty}")
    return sorted({os.path.normpath(f) for f in files})


def name_files(files: list[str], limit: int = 3) -> str:
    """`files` for a message: all of them, or the first `limit` and how many more."""
    shown = ", ".join(files[:limit])
    return shown + (f" and {len(files) - limit} more" if len(files) > limit else "")


def empty_reason(files: list[str], validation_fraction: float) -> str:
    """Why the training documents of `files` have no text (they have none)."""
    held_out = read_paragraphs(files, "validation", validation_fraction)
    if next(iter(held_out.take(1)), None) is not None:
        return (
            f"every document with text is held out (--validation_fraction="
            f"{validation_fraction}): lower it, or give more documents"
        )
    return "every line is blank or whitespace"


def read_bytes(path: str, max_bytes: int = -1) -> bytes:
    """The bytes of `path` (gunzipped for `.gz`), up to `max_bytes`; a corrupt or
    truncated gzip file is a ValueError naming it (zlib's `error` and `EOFError` were
    tracebacks: pipeline fuzzing)."""
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            return f.read(max_bytes)
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(f"{path}: a corrupt or truncated gzip file ({e})") from e


def warn_invalid_utf8(
    files: list[str], max_bytes: int = 1_000_000, max_share: float = 0.01
) -> dict[str, float]:
    """Logs a warning, before anything trains, naming the files whose first `max_bytes`
    have more than `max_share` of lines that are not UTF-8 (a latin-1 corpus): the
    pipeline would turn their bytes into U+FFFD and the vocabulary would learn "\ufffd".
    Returns {file: share of invalid lines} of those files."""
    suspects = {}
    for path in files:
        head = read_bytes(path, max_bytes)
        if len(head) == max_bytes:
            head = head[: head.rfind(b"\n") + 1]  # the last line may end mid-character
        if _is_utf8(head):  # the common case, without a look at each line
            continue
        lines = [line for line in head.splitlines() if line.strip()]
        invalid = sum(not _is_utf8(line) for line in lines)
        if lines and invalid / len(lines) > max_share:
            suspects[path] = invalid / len(lines)
    if suspects:
        shares = ", ".join(f"{p} ({share:.0%} of lines)" for p, share in suspects.items())
        logging.warning(
            "%d corpus file(s) are not UTF-8 in their first %.1f MB: %s. Their invalid "
            "bytes become U+FFFD (counted as invalid_utf8 in results.json); convert them "
            "first, e.g. iconv -f latin1 -t utf-8",
            len(suspects), max_bytes / 1e6, shares,
        )  # fmt: skip
    return suspects


def _is_utf8(line: bytes) -> bool:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _expand(target: str) -> list[str]:
    if os.path.isfile(target):
        return [target]
    if os.path.isdir(target):
        found = [
            f
            for p in TEXT_PATTERNS
            for f in glob.glob(os.path.join(target, "**", p), recursive=True)
        ]
        if not found:
            raise FileNotFoundError(
                f"No {' or '.join(TEXT_PATTERNS)} files in corpus folder {target}"
            )
        return found
    found = [f for f in glob.glob(target, recursive=True) if os.path.isfile(f)]
    if not found:
        raise FileNotFoundError(f"Corpus path does not exist or matches no files: {target}")
    return found


def _file_paragraphs(path: tf.Tensor) -> tf.data.Dataset:
    """One file's non-blank lines with their document key and previous paragraph."""
    compression = tf.where(tf.strings.regex_full_match(path, r".*\.gz"), "GZIP", "")
    name = tf.strings.regex_replace(path, r".*/", "")  # stable across data_dir moves

    def step(state, line):
        doc_index, previous = state
        blank = tf.equal(tf.strings.strip(line), "")
        element = {
            "text": line,
            "previous": previous,
            "document": tf.strings.join([name, tf.strings.as_string(doc_index)], ":"),
            "blank": blank,
        }
        next_state = (doc_index + tf.cast(blank, tf.int64), tf.where(blank, "", line))
        return next_state, element

    lines = tf.data.TextLineDataset(path, compression_type=compression)
    initial = (tf.constant(0, tf.int64), tf.constant(""))
    return lines.scan(initial, step).filter(lambda e: tf.logical_not(e["blank"]))


def read_paragraphs(
    files: list[str],
    split: str = "train",
    validation_fraction: float = 0.01,
    max_line_bytes: int = 100_000,
    stats: LineStats | None = None,
    shuffle_files_seed: int | None = None,
    per_file=None,
) -> tf.data.Dataset:
    """Paragraph dicts from `files`, restricted to the train or validation documents.

    `per_file`, if given, maps each file's paragraph dataset (its documents one after
    another) to the dataset that is interleaved instead: for steps that must see a
    document's paragraphs together (the files are read round-robin, one element each).
    """
    if split not in ("train", "validation"):
        raise ValueError(f"split must be train|validation, got {split!r}")
    threshold = int(round(validation_fraction * _HASH_BUCKETS))
    dataset = tf.data.Dataset.from_tensor_slices(files)
    if shuffle_files_seed is not None:
        # one order for every pass (see make_mlm_dataset); up to 16 files are read
        # round-robin anyway
        dataset = dataset.shuffle(
            len(files), seed=shuffle_files_seed, reshuffle_each_iteration=False
        )

    def in_split(element):
        held_out = tf.strings.to_hash_bucket_fast(element["document"], _HASH_BUCKETS) < threshold
        return held_out if split == "validation" else tf.logical_not(held_out)

    def clean(element):
        return {
            "text": sanitize_lines(element["text"], max_line_bytes, stats),
            "previous": sanitize_lines(element["previous"], max_line_bytes),
            "document": element["document"],
        }

    def select(paragraphs):
        paragraphs = paragraphs.filter(in_split).map(clean, num_parallel_calls=tf.data.AUTOTUNE)
        return paragraphs.filter(lambda e: tf.not_equal(e["text"], ""))

    def one_file(path):
        paragraphs = _file_paragraphs(path)
        return paragraphs if per_file is None else per_file(select(paragraphs))

    dataset = dataset.interleave(
        one_file,
        cycle_length=min(len(files), 16),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return dataset if per_file is not None else select(dataset)

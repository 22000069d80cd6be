"""Training a WordPiece vocabulary with exactly the words the in-graph tokenizer sees.

`split_words` runs TF-Text's FastBertTokenizer normalizer and pre-tokenizer (the kernels
inside `WordPieceTokenizer`) in `tf.data` over batches of lines; the words are counted
per batch in-graph (`tf.unique_with_counts`) and summed in a Python `Counter`. The
vocabulary is learned from those counts by the Rust WordPiece trainer of `tokenizers`
(a keras-hub dependency), with its alphabet fixed up front so the result is
deterministic. TF-Text's pure-Python learner (`wordpiece_tokenizer_learner_lib.learn`)
took 264 s for the 118k distinct words of 25 MB of Wikipedia; this one takes ~5 s, with
the same number of tokens per word on held-out text.
"""

import collections
import functools
import time
from collections.abc import Iterable, Iterator

import tensorflow as tf
import tensorflow_text as text
from tokenizers import Tokenizer, models, trainers

from bertgpt_tf.atomic_file import write_text
from bertgpt_tf.tokenizers.special_tokens import SPECIAL_TOKENS, UNK

# Marks a piece that continues a word ("play", "##ing").
CONTINUATION_PREFIX = "##"
# FastWordpieceTokenizer's `max_bytes_per_word`: longer words become [UNK] when tokenizing.
MAX_BYTES_PER_WORD = 100
PROGRESS_SECONDS = 5.0


def split_words(strings: tf.Tensor, lower_case: bool = True) -> tf.RaggedTensor:
    """Normalized words, as FastBertTokenizer sees them: (batch,) -> (batch, words) tf.string.

    Lower-cases, NFD-normalizes and strips accents (if `lower_case`), turns control
    characters into spaces, splits on whitespace, punctuation and around each CJK
    character. A scalar gives (words,).

    Example:
    >>> split_words(tf.constant(["Café, 北京!"])).to_list()
    [[b'cafe', b',', b'\\xe5\\x8c\\x97', b'\\xe4\\xba\\xac', b'!']]
    """
    strings = tf.convert_to_tensor(strings, tf.string)
    if strings.shape.rank == 0:
        return split_words(strings[tf.newaxis], lower_case)[0]
    normalizer, splitter = _word_splitter(lower_case)
    normalized = normalizer.normalize(strings)  # (batch,)
    _, starts, ends = splitter.tokenize_with_offsets(normalized)  # (batch, words) byte offsets
    # Cut the words out of one joined string: substr broadcasts a (1,) input without
    # copying it per word, which matters for megabyte-long lines.
    row_offsets = tf.math.cumsum(tf.cast(tf.strings.length(normalized), tf.int64), exclusive=True)
    positions = tf.gather(row_offsets, starts.value_rowids()) + starts.flat_values
    lengths = ends.flat_values - starts.flat_values
    # substr rejects empty positions; one dummy (0, 0) is appended and dropped.
    words = tf.strings.substr(
        tf.strings.reduce_join(normalized)[tf.newaxis],
        tf.concat([positions, [0]], axis=0),
        tf.concat([lengths, [0]], axis=0),
    )[:-1]
    return starts.with_flat_values(words)


@functools.lru_cache(maxsize=2)
def _word_splitter(lower_case: bool) -> tuple[text.FastBertNormalizer, text.FastWordpieceTokenizer]:
    with tf.init_scope():  # eager constants, reusable by every traced function
        normalizer = text.FastBertNormalizer(lower_case_nfd_strip_accents=lower_case)
        # No multi-character pieces: every word comes back whole (as "." or [UNK]) with
        # its byte offsets, from the same pre-tokenizer as WordPieceTokenizer's.
        splitter = text.FastWordpieceTokenizer(
            vocab=[UNK, "."],
            max_bytes_per_word=MAX_BYTES_PER_WORD,
            unknown_token=UNK,
            token_out_type=tf.int32,
        )
    return normalizer, splitter


def count_words(
    lines: tf.data.Dataset | Iterable[str],
    lower_case: bool = True,
    max_bytes: int | None = None,
    batch_size: int = 1024,
    progress: bool = True,
) -> collections.Counter:
    """Counts the `split_words` words of text lines; keys are UTF-8 bytes.

    Args:
        lines: a dataset of scalar (or 1-D batches of) strings, or an iterable of strings.
        lower_case: as in `WordPieceTokenizer`.
        max_bytes: stop after about this many bytes of text (whole batches); None: all.
        batch_size: lines per batch when `lines` holds scalars.
        progress: print lines, megabytes and distinct words every few seconds.

    Example:
    >>> count_words(["a b a"], progress=False)
    Counter({b'a': 2, b'b': 1})
    """
    dataset = _line_batches(lines, batch_size)
    dataset = dataset.map(
        lambda batch: _count_batch(batch, lower_case), num_parallel_calls=2, deterministic=False
    ).prefetch(2)
    counts, num_lines, num_bytes = collections.Counter(), 0, 0
    started = last_report = time.monotonic()
    for words, word_counts, batch_lines, batch_bytes in dataset.as_numpy_iterator():
        counts.update(dict(zip(words.tolist(), word_counts.tolist(), strict=True)))
        num_lines, num_bytes = num_lines + int(batch_lines), num_bytes + int(batch_bytes)
        if progress and time.monotonic() - last_report > PROGRESS_SECONDS:
            last_report = time.monotonic()
            _report(
                f"{num_lines:,} lines, {num_bytes / 1e6:.1f} MB, {len(counts):,} words", started
            )
        if max_bytes is not None and num_bytes >= max_bytes:
            break
    if progress:
        _report(
            f"counted {num_lines:,} lines, {num_bytes / 1e6:.1f} MB, {len(counts):,} words", started
        )
    return counts


def _report(message: str, started: float) -> None:
    print(f"wordpiece vocab: {message} ({time.monotonic() - started:.1f} s)", flush=True)


def _line_batches(lines: tf.data.Dataset | Iterable[str], batch_size: int) -> tf.data.Dataset:
    """(batch,) tf.string batches from a dataset of strings or a Python iterable."""
    if isinstance(lines, tf.data.Dataset):
        return lines.batch(batch_size) if lines.element_spec.shape.rank == 0 else lines

    def generate() -> Iterator[list]:
        batch = []
        for line in lines:
            batch.append(line)
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    return tf.data.Dataset.from_generator(
        generate, output_signature=tf.TensorSpec([None], tf.string)
    )


def _count_batch(batch: tf.Tensor, lower_case: bool) -> tuple[tf.Tensor, ...]:
    words, _, counts = tf.unique_with_counts(split_words(batch, lower_case).flat_values)
    return words, counts, tf.size(batch), tf.reduce_sum(tf.strings.length(batch))


def learn_vocabulary(
    word_counts: dict[bytes | str, int],
    vocabulary_size: int = 30522,
    min_count: int = 1,
    max_unique_chars: int = 1000,
    progress: bool = True,
) -> list[str]:
    """Learns WordPiece tokens from word counts, deterministically.

    The vocabulary is: the special tokens, the alphabet (the `max_unique_chars` most
    frequent characters), "##" + each of them seen inside a word, then the learned
    multi-character tokens in the order they were learned. Words seen fewer than
    `min_count` times, longer than `MAX_BYTES_PER_WORD` bytes, not valid UTF-8 or with a
    character outside the alphabet are left out: the tokenizer maps all of them to [UNK].
    The result has at most `vocabulary_size` tokens; fewer when the text is too small.

    Example:
    >>> learn_vocabulary({"low": 5, "lower": 2}, vocabulary_size=20, progress=False)[5:]
    ['e', 'l', 'o', 'r', 'w', '##e', '##o', '##r', '##w', 'lo', 'low', '##er', 'lower']
    """
    started = time.monotonic()
    chars, words = _alphabet(_valid_words(word_counts, min_count), max_unique_chars)
    continued = sorted({char for word in words for char in word[1:]})
    initial = list(SPECIAL_TOKENS) + chars + [CONTINUATION_PREFIX + char for char in continued]
    if progress:
        _report(f"learning from {len(words):,} words, {len(chars):,} characters", started)
    # The initial tokens go in as "special tokens" to fix their ids: the trainer would
    # number them in hash-map order, and ties between merges would differ run to run.
    # Without normalizer or pre-tokenizer, each string fed to the trainer is one word.
    tokenizer = Tokenizer(models.WordPiece(unk_token=UNK))
    trainer = trainers.WordPieceTrainer(
        vocab_size=vocabulary_size,
        special_tokens=initial,
        continuing_subword_prefix=CONTINUATION_PREFIX,
        show_progress=False,
    )
    tokenizer.train_from_iterator(_repeated_words(words), trainer=trainer)
    learned = sorted(tokenizer.get_vocab().items(), key=lambda token_and_id: token_and_id[1])
    reserved = set(initial)
    vocabulary = initial + [token for token, _ in learned if token not in reserved]
    if progress:
        _report(f"learned {len(vocabulary):,} tokens", started)
    return vocabulary[:vocabulary_size]


def _valid_words(word_counts: dict[bytes | str, int], min_count: int) -> dict[str, int]:
    """Words seen `min_count` times, of at most MAX_BYTES_PER_WORD bytes of valid UTF-8."""
    words = {}
    for word, count in word_counts.items():
        raw = word if isinstance(word, bytes) else word.encode("utf-8")
        if count < min_count or len(raw) > MAX_BYTES_PER_WORD:
            continue
        try:
            words[raw.decode("utf-8")] = count
        except UnicodeDecodeError:
            continue
    return words


def _alphabet(words: dict[str, int], max_unique_chars: int) -> tuple[list[str], dict[str, int]]:
    """The `max_unique_chars` most frequent characters (sorted), and the words made of them."""
    char_counts = collections.Counter()
    for word, count in words.items():
        for char in word:
            char_counts[char] += count
    by_count = sorted(
        char_counts.items(), key=lambda char_and_count: (-char_and_count[1], char_and_count[0])
    )
    kept = {char for char, _ in by_count[:max_unique_chars]}
    return sorted(kept), {word: count for word, count in words.items() if kept.issuperset(word)}


def _repeated_words(word_counts: dict[str, int], batch_size: int = 100_000) -> Iterator[list[str]]:
    """Each word `count` times, in batches: the trainer takes text, not counts."""
    batch = []
    for word, count in word_counts.items():
        batch.extend([word] * count)
        if len(batch) >= batch_size:
            yield batch
            batch = []
    yield batch


def train_wordpiece_vocabulary(
    lines: tf.data.Dataset | Iterable[str],
    vocabulary_size: int = 30522,
    lower_case: bool = True,
    max_bytes: int | None = None,
    min_count: int = 1,
    max_unique_chars: int = 1000,
    progress: bool = True,
) -> list[str]:
    """Trains a WordPiece vocabulary for `WordPieceTokenizer` from text lines.

    Args:
        lines: a `tf.data.Dataset` of strings, or any iterable of strings (one line each).
        vocabulary_size: maximum number of tokens, special tokens included.
        lower_case: must match the `WordPieceTokenizer` that will use the vocabulary.
        max_bytes: read only about this many bytes of text; None reads everything.
        min_count: ignore words seen fewer times.
        max_unique_chars: size cap of the single-character alphabet.
        progress: print progress lines while counting and learning.

    Example:
    >>> vocab = train_wordpiece_vocabulary(["the cat sat", "the cats"], 30, progress=False)
    >>> vocab[:5], "the" in vocab
    (['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'], True)
    """
    word_counts = count_words(lines, lower_case, max_bytes, progress=progress)
    return learn_vocabulary(word_counts, vocabulary_size, min_count, max_unique_chars, progress)


def write_vocabulary(path: str, vocabulary: list[str]) -> None:
    """Writes one token per line (UTF-8)."""
    bad = [token for token in vocabulary if not token or "\n" in token or "\r" in token]
    if bad:
        raise ValueError(f"Tokens must be non-empty and single-line, got {bad[:5]}.")
    write_text(path, "".join(token + "\n" for token in vocabulary))  # whole or not at all


def read_vocabulary(path: str) -> list[str]:
    """Reads a vocabulary file written by `write_vocabulary` (or a BERT vocab.txt)."""
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"Vocabulary file not found: {path}")
    with tf.io.gfile.GFile(path, "r") as file:
        tokens = [line.rstrip("\r") for line in file.read().split("\n")]
    if tokens and tokens[-1] == "":
        tokens.pop()
    if not tokens:
        raise ValueError(f"Vocabulary file is empty: {path}")
    return tokens

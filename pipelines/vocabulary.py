"""Get a run's vocabulary/tokenizer model: given, already in the run dir, or trained now."""

import os
import shutil

from absl import logging

from bertgpt_tf.atomic_file import atomic_path, write_text
from bertgpt_tf.tokenizers.byte_bpe_tokenizer import merges_path
from bertgpt_tf.tokenizers.char_tokenizer import build_char_vocabulary, write_char_vocabulary
from bertgpt_tf.tokenizers.load_tokenizer import VOCABULARY_FILES
from bertgpt_tf.tokenizers.sentencepiece_vocab import train_sentencepiece, write_sentencepiece_model
from bertgpt_tf.tokenizers.wordpiece_vocab import train_wordpiece_vocabulary, write_vocabulary
from pipelines.sources import empty_reason, name_files, read_bytes, read_paragraphs


def ensure_vocabulary(
    run_dir: str,
    files: list[str],
    kind: str = "wordpiece",
    vocabulary: str = "",
    vocabulary_size: int = 30522,
    max_bytes: int = 40_000_000,
    lower_case: bool = True,
    validation_fraction: float = 0.01,
    masked_lm: bool = False,
) -> str:
    """Returns `<run_dir>/<vocabulary file of kind>`, copying `vocabulary` there or
    training it from the training documents (validation documents stay unseen).
    `masked_lm`: a SentencePiece model for an encoder gets [CLS]/[SEP]/[MASK] pieces."""
    target = os.path.join(run_dir, VOCABULARY_FILES[kind])
    if kind == "byte_bpe":  # vocab.json and the merges.txt beside it, as imported
        if not vocabulary and not os.path.exists(target):
            raise ValueError(
                "byte_bpe (GPT-2 / RoBERTa) vocabularies come with imported checkpoints: "
                "give --vocabulary=<vocab.json> (merges.txt beside it) or --init_from"
            )
        _given_or_existing(merges_path(target), vocabulary and merges_path(vocabulary))
    if _given_or_existing(target, vocabulary):
        return target
    logging.info(
        "training a %s vocabulary (%d) on up to %d bytes", kind, vocabulary_size, max_bytes
    )
    if kind == "char":  # every character of the text, newlines included (as nanoGPT)
        text = "".join(_read_text(f) for f in files)
        if not text.strip():
            raise ValueError(
                f"no text to build a char vocabulary from in {name_files(files)}: "
                "every character is whitespace"
            )
        write_char_vocabulary(target, build_char_vocabulary(text))
        return target
    paragraphs = read_paragraphs(files, split="train", validation_fraction=validation_fraction)
    lines = paragraphs.map(lambda e: e["text"])
    if next(iter(lines.take(1)), None) is None:
        raise ValueError(
            f"no text to train a {kind} vocabulary on in {name_files(files)}: "
            + empty_reason(files, validation_fraction)
        )
    try:
        if kind == "wordpiece":
            vocab = train_wordpiece_vocabulary(lines, vocabulary_size, lower_case, max_bytes)
            write_vocabulary(target, vocab)
        else:
            model_type = "bpe" if kind == "bpe" else "unigram"
            model = train_sentencepiece(
                lines, vocabulary_size, model_type, max_bytes, masked_lm=masked_lm
            )
            write_sentencepiece_model(target, model)
    except RuntimeError as e:  # the trainers' own words (e.g. "Vocabulary size too high")
        raise ValueError(f"training a {kind} vocabulary on {name_files(files)} failed: {e}") from e
    return target


def _given_or_existing(target: str, given: str) -> bool:
    """True when `target` is ready: the `given` file copied there, or a vocabulary
    the run already has (resume). False: it must be trained."""
    if given:
        if not os.path.isfile(given):
            raise FileNotFoundError(f"Vocabulary file not found: {given}")
        if os.path.abspath(given) != os.path.abspath(target):
            with atomic_path(target) as staging:  # a kill mid-copy leaves no stub
                shutil.copyfile(given, staging)
        return True
    if os.path.exists(target):
        logging.info("re-using vocabulary %s", target)
        return True
    return False


def _read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8", "replace")


def vocabulary_from_texts(
    run_dir: str, texts: list[str], vocabulary_size: int = 30522, lower_case: bool = True
) -> str:
    """A WordPiece vocabulary trained on `texts` only (fine-tuning from scratch without
    --vocabulary): they are written to the run dir, one document per text."""
    path = os.path.join(run_dir, "train_texts.txt")
    write_text(path, "".join(text.replace("\n", " ") + "\n\n" for text in texts))
    return ensure_vocabulary(
        run_dir, [path], "wordpiece", "", vocabulary_size, lower_case=lower_case,
        validation_fraction=0.0,
    )  # fmt: skip


def ensure_translation_vocabularies(
    run_dir: str,
    sources: list[str],
    targets: list[str],
    kind: str = "bpe",
    shared: bool = True,
    vocabulary_size: int = 8000,
    languages: tuple[str, str] = ("en", "de"),
    vocabulary: str = "",
    target_vocabulary: str = "",
) -> tuple[str, str]:
    """(source model, target model) SentencePiece files in `run_dir`: given (copied
    there), already there, or trained on the training sentences. `shared`: one model
    trained on both sides (both paths are the same file); else `<model>.<language>.model`
    per side, each trained on its own language."""
    if kind not in ("bpe", "sentencepiece"):
        raise ValueError(
            f"translation needs a SentencePiece tokenizer (bpe|sentencepiece), not {kind!r}"
        )
    model_type = "bpe" if kind == "bpe" else "unigram"
    stem = os.path.join(run_dir, VOCABULARY_FILES[kind][: -len(".model")])

    def ensure(path: str, given: str, lines: list[str]) -> str:
        # --vocabulary / --target_vocabulary (copied in), or the run's own
        if _given_or_existing(path, given):
            return path
        logging.info(
            "training a %s SentencePiece model (%d) for %s", model_type, vocabulary_size, path
        )
        try:
            model = train_sentencepiece(lines, vocabulary_size, model_type)
        except RuntimeError as e:  # e.g. "Vocabulary size too high" for a small corpus
            raise ValueError(f"training {path} on {len(lines)} sentences failed: {e}") from e
        write_sentencepiece_model(path, model)
        return path

    if shared:  # both languages, pair by pair
        both = [line for pair in zip(sources, targets, strict=True) for line in pair]
        path = ensure(stem + ".model", vocabulary, both)
        return path, path
    source, target = languages
    return (
        ensure(f"{stem}.{source}.model", vocabulary, sources),
        ensure(f"{stem}.{target}.model", target_vocabulary, targets),
    )

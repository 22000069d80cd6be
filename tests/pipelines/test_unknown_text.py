"""A fine-tuning run whose text its vocabulary cannot spell (Chinese under an English
vocabulary: 79 % `[UNK]` on ChnSentiCorp) is refused before training, with the share,
examples and the way out; the share is logged for every run."""

import logging

import pytest

from bertgpt_tf.config import Config
from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer
from pipelines.task_data import finetune_inputs
from pipelines.unknown_text import require_known_text

ENGLISH = ["the room was clean and quiet", "the staff were rude", "a great breakfast", "noisy"]
CHINESE = ["房间很干净，很安静", "服务员态度很差", "早餐非常好", "太吵了"]
# an English-only WordPiece vocabulary: special tokens, the words, the alphabet
VOCABULARY = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ",", "."] + sorted(
    {w for text in ENGLISH for w in text.split()} | set("abcdefghijklmnopqrstuvwxyz")
)


def _config(tmp_path, texts: list[str], **overrides) -> Config:
    data = tmp_path / "data.tsv"
    rows = [f"{text}\t{i % 2}" for i in range(5) for text in texts]  # 20 rows
    data.write_text("text\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    vocabulary = tmp_path / "vocab.txt"
    vocabulary.write_text("\n".join(VOCABULARY) + "\n", encoding="utf-8")
    (tmp_path / "run").mkdir(exist_ok=True)
    defaults = dict(
        task="classify", train_data=str(data), vocabulary=str(vocabulary), init_from="none",
        model_dir=str(tmp_path / "run"), batch_size=4, sequence_length=16,
    )  # fmt: skip
    return Config.from_preset("tiny", **{**defaults, **overrides})


def test_chinese_under_an_english_vocabulary_is_refused(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="absl"), pytest.raises(ValueError) as refused:
        finetune_inputs(_config(tmp_path, CHINESE))
    message = str(refused.value)
    # every character is its own [UNK] word but the full-width comma (NFKC: ",")
    assert message.startswith("96.6 % of the 88 pieces of 16 training texts are [UNK]"), message
    assert "(unknown: 很 " in message and "--max_unknown_share=0.1" in message
    assert "--vocabulary=" in message and "--max_unknown_share=1 to train anyway" in message
    assert "[UNK] pieces: 96.6 % of 88 in 16 training texts" in caplog.text


def test_the_hint_names_the_init_from_run(tmp_path):
    with pytest.raises(ValueError, match="the vocabulary is --init_from=runs/mlm-en's: .*"
                       "--init_from=none"):  # fmt: skip
        require_known_text(WordPieceTokenizer(VOCABULARY), CHINESE, 0.1, "v", "runs/mlm-en")


def test_english_passes_and_the_share_is_logged(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="absl"):
        inputs = finetune_inputs(_config(tmp_path, ENGLISH))
    assert "[UNK] pieces: 0.0 % of " in caplog.text
    assert inputs.tokenizer.vocabulary_size == len(VOCABULARY)
    assert inputs.derived["vocabulary_size"] == len(VOCABULARY)


def test_the_threshold_is_a_flag(tmp_path, caplog):
    """--max_unknown_share=1 trains anyway (logged); a finished run (eval.json) is
    re-tested without the check; a share outside [0, 1] is refused."""
    with caplog.at_level(logging.INFO, logger="absl"):
        finetune_inputs(_config(tmp_path, CHINESE, max_unknown_share=1.0))
    assert "[UNK] pieces: 96.6 %" in caplog.text
    (tmp_path / "run" / "eval.json").write_text("{}")
    finetune_inputs(_config(tmp_path, CHINESE))
    with pytest.raises(ValueError, match=r"max_unknown_share must be in \[0, 1\], got 1.5"):
        _config(tmp_path, CHINESE, max_unknown_share=1.5)

"""The MLM pipeline and model learn to use context, not just word frequencies.

Every paragraph is a run of WORDS in their fixed cyclic order from a random start, so
each masked word is fixed by its neighbours while the unigram guess is right about
1 time in len(WORDS). A masking or label misalignment, or a model that cannot read
positions, stays near that floor; a healthy one passes the threshold within a few
hundred steps."""

import random

import keras

from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer
from bertgpt_tf.tokenizers.special_tokens import SPECIAL_TOKENS
from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer
from bertgpt_tf.training.optimizer import make_optimizer
from pipelines.mlm_dataset import make_mlm_dataset
from tests.conftest import WORDS, write_corpus

CYCLE = list(dict.fromkeys(WORDS))  # unique, in order
STEPS, THRESHOLD = 800, 0.6


def _cyclic_documents(n: int, seed: int = 0) -> list[list[str]]:
    rng = random.Random(seed)
    documents = []
    for _ in range(n):
        paragraphs = []
        for _ in range(4):
            start, length = rng.randrange(len(CYCLE)), rng.randint(8, 20)
            paragraphs.append(" ".join(CYCLE[(start + i) % len(CYCLE)] for i in range(length)))
        documents.append(paragraphs)
    return documents


def test_mlm_accuracy_rises_far_above_the_unigram_floor(tmp_path):
    keras.utils.set_random_seed(0)
    files = write_corpus(str(tmp_path / "corpus"), _cyclic_documents(400))
    vocabulary = tmp_path / "vocab.txt"
    vocabulary.write_text("\n".join([*SPECIAL_TOKENS, *CYCLE]) + "\n")
    tokenizer = WordPieceTokenizer(str(vocabulary))
    datasets = {
        split: make_mlm_dataset(
            files,
            tokenizer,
            batch_size=32,
            sequence_length=32,
            max_predictions_per_seq=6,
            split=split,
            validation_fraction=0.1,
            pair_objective="none",
            shuffle_buffer=500,
        )  # fmt: skip
        for split in ("train", "validation")
    }
    encoder = BertEncoder(
        tokenizer.vocabulary_size, num_layers=2, num_heads=2, hidden_dim=64,
        intermediate_dim=128, dropout=0.0, max_sequence_length=32,
    )  # fmt: skip
    model = BertPretrainer(encoder, "none", tie_word_embeddings=False)
    model.compile(make_optimizer(1e-3, warmup_steps=50, total_steps=STEPS))
    model.fit(datasets["train"], steps_per_epoch=STEPS, epochs=1, verbose=0, shuffle=False)
    results = model.evaluate(datasets["validation"], steps=10, return_dict=True, verbose=0)
    floor = 1 / len(CYCLE)
    accuracy = results.get("mlm_accuracy", results.get("accuracy"))
    assert accuracy > THRESHOLD > 10 * floor, results

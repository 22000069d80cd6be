"""Tiny untrained SavedModels of every export kind, written with the product's serving
modules and `export_saved_model`: what the hostile-request and serving-load tools call."""

import os

import keras

from tools.tiny_data import corpus_lines, write_vocabulary

SEQUENCE_LENGTH = 32
KINDS = ("mlm", "classify", "classify_pair", "regress", "ner", "embed", "clm_rope_bpe",
         "clm_learned_char", "translate_greedy", "translate_beam")  # fmt: skip
NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def _encoder(vocabulary_size: int):
    from bertgpt_tf.models.bert_encoder import BertEncoder

    return BertEncoder(
        vocabulary_size=vocabulary_size, num_layers=1, num_heads=2, hidden_dim=16,
        intermediate_dim=32, max_sequence_length=SEQUENCE_LENGTH,
    )  # fmt: skip


def _module(kind: str, folder: str):
    """The serving module of `kind` around a freshly initialized tiny model."""
    from bertgpt_tf.tokenizers.wordpiece_tokenizer import WordPieceTokenizer

    keras.utils.set_random_seed(0)
    if kind.startswith(("clm", "translate")):
        return _generator(kind, folder)
    vocabulary = os.path.join(folder, "vocab.txt")
    if not os.path.exists(vocabulary):
        write_vocabulary(vocabulary, corpus_lines())
    tokenizer = WordPieceTokenizer(vocabulary, special_tokens_in_strings=kind == "mlm")
    encoder = _encoder(tokenizer.vocabulary_size)
    if kind == "mlm":
        from bertgpt_tf.export.mlm_serving import MaskedLMServing
        from bertgpt_tf.tasks.bert_pretrainer import BertPretrainer

        return MaskedLMServing(BertPretrainer(encoder, "nsp"), tokenizer, SEQUENCE_LENGTH)
    if kind == "ner":
        from bertgpt_tf.export.ner_serving import NERServing
        from bertgpt_tf.tasks.token_classifier import TokenClassifier

        model = TokenClassifier(encoder, len(NER_LABELS))
        return NERServing(model, tokenizer, SEQUENCE_LENGTH, NER_LABELS)
    if kind == "embed":
        from bertgpt_tf.export.embed_serving import EmbedServing
        from bertgpt_tf.tasks.sentence_embedder import SentenceEmbedder

        return EmbedServing(SentenceEmbedder(encoder), tokenizer, SEQUENCE_LENGTH)
    from bertgpt_tf.export.classifier_serving import TextClassifierServing
    from bertgpt_tf.tasks.text_classifier import TextClassifier

    labels = None if kind == "regress" else ["negative", "neutral", "positive"]
    model = TextClassifier(encoder, len(labels or [0]))
    return TextClassifierServing(model, tokenizer, SEQUENCE_LENGTH, labels, kind.endswith("pair"))


def _generator(kind: str, folder: str):
    from bertgpt_tf.tokenizers.char_tokenizer import CharTokenizer, build_char_vocabulary
    from bertgpt_tf.tokenizers.sentencepiece_tokenizer import SentencePieceTokenizer
    from bertgpt_tf.tokenizers.sentencepiece_vocab import train_sentencepiece

    lines = corpus_lines()
    if kind.endswith("char"):
        tokenizer = CharTokenizer(build_char_vocabulary("\n".join(lines)))
    else:
        tokenizer = SentencePieceTokenizer(train_sentencepiece(lines, 400, progress=False))
    if kind.startswith("translate"):
        from bertgpt_tf.export.translate_serving import TranslateServing
        from bertgpt_tf.models.seq2seq_transformer import Seq2SeqTransformer

        seq2seq = Seq2SeqTransformer(
            tokenizer.vocabulary_size, num_layers=1, num_heads=2, hidden_dim=16,
            intermediate_dim=32, max_sequence_length=SEQUENCE_LENGTH,
        )  # fmt: skip
        beam = 3 if kind.endswith("beam") else 1
        return TranslateServing(seq2seq, tokenizer, tokenizer, 16, beam_size=beam)
    from bertgpt_tf.export.clm_serving import CausalLMServing
    from bertgpt_tf.models.gpt_decoder import GPTDecoder

    decoder = GPTDecoder(
        vocabulary_size=tokenizer.vocabulary_size, num_layers=1, num_heads=2, hidden_dim=32,
        intermediate_dim=64, max_sequence_length=64,
        position="rope" if "rope" in kind else "learned",
    )  # fmt: skip
    return CausalLMServing(decoder, tokenizer, max_new_tokens_limit=16)


def build_exports(folder: str, kinds: tuple[str, ...] = KINDS) -> dict[str, str]:
    """{kind: SavedModel version dir} under `folder` (an existing export is reused)."""
    from bertgpt_tf.export.saved_model import export_saved_model

    os.makedirs(folder, exist_ok=True)
    paths = {}
    for kind in kinds:
        version = os.path.join(folder, kind, "1")
        if not os.path.exists(version):
            export_saved_model(_module(kind, folder), folder, kind, version=1)
        paths[kind] = version
    return paths

"""ALBERT checkpoints: factorized embeddings, one shared block, tanh GELU and a lower-casing
SentencePiece tokenizer, against keras-hub's converter and the `sentencepiece` library."""

import os
import unicodedata

import keras_hub
import numpy as np
import sentencepiece
import tensorflow as tf

from bertgpt_tf.checkpoints.import_checkpoint import build_pretrainer, read_checkpoint
from bertgpt_tf.config import Config
from bertgpt_tf.tokenizers.load_tokenizer import load_tokenizer
from bertgpt_tf.tokenizers.segment_packer import encode_texts
from tests.bertgpt_tf.checkpoints.checkpoint_files import write_hf_albert
from tests.real_text import sample_lines


def albert_preprocess(text: str) -> str:
    """Hugging Face `AlbertTokenizer.preprocess_text` (remove_space, do_lower_case,
    keep_accents=False), which runs in Python before SentencePiece."""
    text = " ".join(text.strip().split()).replace("``", '"').replace("''", '"')
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c)).lower()


def test_albert_sequence_output_equals_keras_hub(tmp_path):
    """Random ALBERT weights in HF layout: our `BertEncoder` (embedding_dim, share_layers,
    gelu_approximate) equals keras-hub's `AlbertBackbone.from_preset` on every real
    token; the import keeps the SOP head as the pair head, and every tensor maps."""
    hf_dir = write_hf_albert(str(tmp_path / "albert"))
    checkpoint = read_checkpoint(hf_dir)
    sizes = checkpoint.sizes
    assert (sizes["share_layers"], sizes["embedding_dim"], sizes["activation"]) == (
        True,
        4,
        "gelu_approximate",
    )
    model, report = build_pretrainer(checkpoint)
    assert report["missing"] == [] and report["unused"] == [] and checkpoint.unused == []
    assert model.pair_head is not None and checkpoint.has_mlm_head
    tokenizer = load_tokenizer(
        "sentencepiece", os.path.join(hf_dir, "spiece.model"), True, normalization="bert"
    )
    texts = ["The Cat sat on the MAT.", "Héllo wörld naïve café [MASK] ``x''"]
    inputs = encode_texts(tokenizer, tf.constant(texts), None, 32, static=False)
    ids = inputs["token_ids"].numpy()
    assert ids[0, 0] == tokenizer.cls_id == 2 and tokenizer.mask_id in ids[1]
    real = inputs["padding_mask"].numpy().astype(bool)
    reference = keras_hub.models.AlbertBackbone.from_preset(hf_dir)
    expected = reference({k: v.numpy() for k, v in inputs.items()})["sequence_output"].numpy()
    ours = model.backbone(inputs)["sequence_output"].numpy()
    assert np.abs(ours - expected)[real].max() <= 1e-5


def test_albert_tokenizer_equals_sentencepiece_with_hf_preprocessing(tmp_path):
    """1,704 real and constructed lines: our in-graph lower-casing, accent stripping and
    quote rewriting + TF-Text SentencePiece give the ids of Hugging Face's
    `AlbertTokenizer` recipe (its Python preprocessing + the `sentencepiece` library)
    for 1,701 lines; 2 split a run of dots or dashes the other way (equal-score
    segmentations: TF-Text's bundled SentencePiece breaks the tie differently from
    sentencepiece 0.2), and the line with NUL reads it as U+FFFD."""
    lines = sample_lines()
    prefix = str(tmp_path / "spiece")
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter([albert_preprocess(line) for line in lines]),
        model_prefix=prefix, model_type="unigram", vocab_size=2000, pad_id=0, unk_id=1,
        bos_id=-1, eos_id=-1, user_defined_symbols=["[CLS]", "[SEP]", "[MASK]"],
        minloglevel=2,
    )  # fmt: skip
    reference = sentencepiece.SentencePieceProcessor(model_file=prefix + ".model")
    ours = load_tokenizer("sentencepiece", prefix + ".model", True, normalization="bert")
    got = ours.tokenize(tf.constant(lines)).to_list()
    expected = [reference.encode(albert_preprocess(line)) for line in lines]
    differ = [(line, a, b) for line, a, b in zip(lines, expected, got, strict=True) if a != b]
    assert len(lines) > 1500 and len(differ) == 3, [line for line, _, _ in differ]
    for line, a, b in differ:
        if "\x00" in line:  # read as U+FFFD (tf.strings.lower empties strings with NUL)
            assert b == reference.encode(albert_preprocess(line.replace("\x00", "\ufffd")))
        else:  # "...." as ". ..." vs "... .": equal-score paths, another tie-break
            assert reference.decode(a) == reference.decode(b) and len(a) == len(b)
    # Runs trained here (normalization "fast_bert") keep their lossless, cased reading.
    cased = load_tokenizer("sentencepiece", prefix + ".model", True)
    assert (
        cased.tokenize(tf.constant(["The"])).to_list()
        != ours.tokenize(tf.constant(["The"])).to_list()
    )


def test_imported_albert_serves_encode_fill_mask_and_embed(tmp_path, assert_servable):
    """`--task=import` of an ALBERT: a run dir with its spiece model, pair objective sop,
    and exports that pass the servability check with the in-memory answers."""
    from bertgpt_tf.export.from_run import import_run, load_serving_module

    hf_dir = write_hf_albert(str(tmp_path / "albert"))
    base = Config.from_preset("tiny", init_from=hf_dir, model_dir=str(tmp_path / "run"))
    lines = import_run(base, str(tmp_path / "exports")).splitlines()
    config = Config.from_json(os.path.join(lines[0], "config.json"))
    assert (config.data.tokenizer, config.data.pair_objective, config.model.share_layers) == (
        "sentencepiece",
        "sop",
        True,
    )
    assert os.path.exists(os.path.join(lines[0], "spm_unigram.model"))
    assert assert_servable(load_serving_module(config), lines[1]) > 0

"""The exported GPT SavedModel, reloaded in a fresh tensorflow+tensorflow_text process,
generates and scores exactly as the in-memory model does."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from bertgpt_tf.export.clm_serving import CausalLMServing
from bertgpt_tf.export.saved_model import export_saved_model
from bertgpt_tf.models.gpt_decoder import GPTDecoder
from bertgpt_tf.tokenizers.char_tokenizer import CharTokenizer, build_char_vocabulary

PROMPTS = ["To be, or not", "ROMEO:", "é!"]
CONTROLS = {"max_new_tokens": 6, "top_k": 0, "top_p": 1.0, "seed": 7}
REQUESTS = {
    "generate": {"prompt": PROMPTS, "temperature": 0.0, **CONTROLS},
    "serving_default": {"prompt": PROMPTS, "temperature": 1.0, **CONTROLS},
    "score": {"text": PROMPTS + ["a much longer text than the others, to score"]},
}


@pytest.fixture(scope="module", params=["learned", "rope"])
def exported(request, tmp_path_factory):
    keras.utils.set_random_seed(0)
    tokenizer = CharTokenizer(build_char_vocabulary("".join(REQUESTS["score"]["text"]) + "\n"))
    decoder = GPTDecoder(
        vocabulary_size=tokenizer.vocabulary_size, num_layers=2, num_heads=2, hidden_dim=32,
        intermediate_dim=64, max_sequence_length=64, position=request.param,
    )  # fmt: skip
    module = CausalLMServing(decoder, tokenizer, max_new_tokens_limit=8)
    path = export_saved_model(module, str(tmp_path_factory.mktemp("saved")), "clm-test")
    return module, path


def _call(module, name, inputs):
    return module.call_signature(name, inputs)


def test_generate_respects_budget_and_greedy_is_deterministic(exported):
    module, _ = exported
    greedy = _call(module, "generate", REQUESTS["generate"])
    counts = greedy["num_new_tokens"]
    assert ((counts >= 1) & (counts <= 6)).all()
    # char model: one char per token (unk: U+FFFD), except the end and pad ids, which a
    # random model emits too and which detokenize to nothing
    specials = {module.tokenizer.end_id, module.tokenizer.pad_id}
    expected = [
        sum(int(t) not in specials for t in ids[:c])
        for ids, c in zip(greedy["token_ids"], counts, strict=True)
    ]
    assert [len(t.decode()) for t in greedy["text"]] == expected
    again = _call(module, "generate", REQUESTS["generate"])
    assert (again["text"] == greedy["text"]).all()
    shorter = _call(module, "generate", {**REQUESTS["generate"], "max_new_tokens": 2})
    assert all(
        g.decode().startswith(t.decode())
        for t, g in zip(shorter["text"], greedy["text"], strict=True)
    )
    assert (shorter["num_new_tokens"] <= 2).all()


def test_score_is_consistent(exported):
    module, _ = exported
    out = _call(module, "score", REQUESTS["score"])
    lengths = [len(t) for t in REQUESTS["score"]["text"]]
    np.testing.assert_array_equal(out["num_tokens"], lengths)  # one token per char
    np.testing.assert_allclose(
        out["perplexity"], np.exp(-out["log_likelihood"] / lengths), rtol=1e-5
    )


def test_export_is_servable_and_matches_in_memory(exported, assert_servable):
    """Warmup requests (greedy + sampled generate, score, logits) and these edge cases,
    as REST bodies, in fresh tensorflow + tensorflow_text processes (and TF 2.20)."""
    module, path = exported
    extra = [
        (name, {k: np.array(v) for k, v in inputs.items()}) for name, inputs in REQUESTS.items()
    ]
    # warmup: 5 requests (serving_default + 4), 2 bodies when fully batched; 3 or 4 outputs each
    assert assert_servable(module, path, extra) == 3 * 3 + 3 * 3 + 3 + 3 * 2 + 1 * 2


def test_long_prompts_are_cut_for_rotary_positions_too(exported):
    """A 1,000-character request keeps its last tokens, learned or rotary positions:
    `score` sees max_sequence_length - 1 = 63 tokens, `generate` 64 - 8 = 56 (the
    opening end-of-text cut too), so it answers as to the last 56 characters alone."""
    module, path = exported
    long_text = "To be, or not ROMEO: " * 48  # 1,008 characters, one token each
    reloaded = tf.saved_model.load(path)
    score = reloaded.signatures["score"](text=tf.constant([long_text, "ROMEO:"]))
    np.testing.assert_array_equal(score["num_tokens"], [63, 6])
    assert module._prompt_ids(tf.constant([long_text]), 56).row_lengths().numpy().tolist() == [56]
    request = {**REQUESTS["generate"], "prompt": [long_text]}
    tail = {**request, "prompt": [long_text[-56:]]}  # cut to the same 56 characters
    whole, cut = (reloaded.signatures["generate"](**{k: tf.constant(v) for k, v in r.items()})
                  for r in (request, tail))  # fmt: skip
    np.testing.assert_array_equal(whole["token_ids"], cut["token_ids"])


def test_a_batch_of_zero_prompts_or_a_negative_budget_answers_empty(exported):
    """Hostile requests: 0 prompts give 0 rows (not "slice index -1"), and a negative
    `max_new_tokens` gives no new tokens."""
    module, _ = exported
    empty = _call(module, "generate", {**REQUESTS["generate"], "prompt": np.array([], object)})
    assert empty["text"].shape == (0,) and empty["num_new_tokens"].shape == (0,)
    negative = _call(module, "generate", {**REQUESTS["generate"], "max_new_tokens": -5})
    assert negative["num_new_tokens"].tolist() == [0, 0, 0]
    assert negative["text"].tolist() == [b"", b"", b""]

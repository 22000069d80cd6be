import numpy as np
import pytest

from bertgpt_tf.models.bert_encoder import BertEncoder
from bertgpt_tf.tasks.sentence_embedder import CoSENTLoss, SentenceEmbedder, SiameseSimilarity


def cosent_by_loops(scores, cosines, scale=20.0):
    """CoSENT written out pair by pair: log(1 + sum over s_i > s_j of exp(scale (c_j - c_i)))."""
    terms = [
        np.exp(scale * (cosines[j] - cosines[i]))
        for i in range(len(scores))
        for j in range(len(scores))
        if scores[i] > scores[j]
    ]
    return np.log1p(np.sum(terms, dtype=np.float64))


def test_cosent_matches_the_pairwise_sum_and_ignores_the_cosines_level():
    rng = np.random.default_rng(0)
    loss = CoSENTLoss()
    for batch in (2, 7, 32):
        scores = rng.integers(0, 6, batch).astype(np.float32) / 5  # ties, as STS-B has
        cosines = rng.uniform(-0.2, 0.2, batch).astype(np.float32)
        value = float(loss(scores[:, None], cosines[:, None]))
        assert value == pytest.approx(cosent_by_loops(scores, cosines), rel=1e-5)
        # anisotropy: every cosine shifted by +0.7 gives the same loss
        shifted = float(loss(scores[:, None], cosines[:, None] + 0.7))
        assert shifted == pytest.approx(value, rel=1e-5)
    # no ordered pair (every score equal): nothing to rank, log(1)
    assert float(loss(np.ones((4, 1)), rng.uniform(size=(4, 1)))) == pytest.approx(0.0)
    assert CoSENTLoss.from_config(CoSENTLoss(scale=5.0).get_config()).scale == 5.0


def test_the_siamese_model_compiles_with_the_chosen_loss():
    embedder = SentenceEmbedder(BertEncoder(vocabulary_size=50, num_layers=1, num_heads=2,
                                            hidden_dim=8, intermediate_dim=16))  # fmt: skip
    assert isinstance(SiameseSimilarity(embedder, "cosent").compile_defaults()["loss"], CoSENTLoss)
    assert "weighted_metrics" in SiameseSimilarity(embedder).compile_defaults()  # cosine: + MSE
    with pytest.raises(ValueError, match="embed_loss must be cosine|cosent"):
        SiameseSimilarity(embedder, "mse")

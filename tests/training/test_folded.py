"""The folded forward pass (twitter_sentiment/folded.py) scores as the Keras model does, padding and all,
and any other architecture keeps Keras' own."""

import warnings

import numpy as np
import pytest

from twitter_sentiment.bundle import SentimentModel
from twitter_sentiment.classifier import build, preset
from twitter_sentiment.folded import FoldedLSTM, folded_forward
from twitter_sentiment.text import clean_tweet
from twitter_sentiment.vocabulary import Vocabulary, pad

pytestmark = pytest.mark.slow

TWEETS = ["I love this so much, best day ever", "worst service I have ever had, never again", "ok",
          "the new phone is not bad at all but the battery dies fast and support was rude to me today", "",
          "thanks for the quick reply!", "I can't believe how good this is", "so sad today"]


def random_rows(vocabulary_size: int, count: int, longest: int, seed: int = 3) -> list[list[int]]:
    """Word ids (never PAD, 0) of random lengths, empty rows included."""
    rng = np.random.default_rng(seed)
    return [rng.integers(1, vocabulary_size, size=rng.integers(0, longest + 1)).tolist() for _ in range(count)]


def keras_scores(model, ids: np.ndarray) -> np.ndarray:
    return np.asarray(model(ids, training=False)).reshape(-1)


def test_the_bundles_scores_are_keras_scores(tiny_bundle):
    folded, keras_own = SentimentModel.load(tiny_bundle), SentimentModel.load(tiny_bundle, fold_recurrent=False)
    assert folded.folded and not keras_own.folded
    rows = random_rows(len(folded.vocabulary), 64, folded.sequence_length)
    for steps in (8, 24, folded.sequence_length):  # shorter than some rows: pad keeps their last words
        ids = pad(rows, steps)
        np.testing.assert_allclose(folded._forward(ids).reshape(-1), keras_scores(folded.model, ids), atol=1e-5)
    clean = [clean_tweet(t) for t in TWEETS]
    np.testing.assert_allclose(folded.score_clean(clean), keras_own.score_clean(clean), atol=1e-5)
    assert np.ptp(keras_own.score_clean(clean)) > 0  # the tweets score differently: the match means something


def test_a_fixed_length_model_folds_with_its_padding_as_words():
    """Without mask_zero, Keras reads the padding as a word (row 0): so does the fold."""
    matrix = np.random.default_rng(1).normal(size=(50, 12)).astype(np.float32)
    model = build(matrix, preset("default", length_aware=False, sequence_length=16, units=8, lexicon_weight=0.0))
    forward = folded_forward(model)
    assert forward is not None
    ids = pad(random_rows(50, 32, 16), 16)
    np.testing.assert_allclose(forward(ids).reshape(-1), keras_scores(model, ids), atol=1e-5)


def test_other_architectures_keep_the_keras_forward_pass():
    matrix = np.random.default_rng(2).normal(size=(50, 12)).astype(np.float32)
    model = build(matrix, preset("default", bidirectional=True, units=8))
    assert folded_forward(model) is None
    metadata = {"sequence_length": 16, "thresholds": {}}
    loaded = SentimentModel(model, Vocabulary([f"w{i}" for i in range(48)]), metadata)
    texts = ["w1 w2 w3", "w4", "w5 w6 w7 w8 w9 w10"]
    scores = loaded.score_clean(texts)
    assert not loaded.folded
    np.testing.assert_allclose(scores, [keras_scores(model, loaded.vocabulary.encode([t], 8))[0] for t in texts],
                               atol=1e-5)


def test_extreme_logits_score_0_and_1_without_a_warning():
    """A warning a request would print to the server's log: np.exp overflows past a logit of 88."""
    units = 4
    inputs = np.zeros((3, 4 * units))
    inputs[1] = 50.0  # word 1 saturates every gate: h = tanh(1) on each unit
    for sign, expected in ((1.0, 1.0), (-1.0, 0.0)):
        forward = FoldedLSTM(inputs, np.zeros((units, 4 * units)), np.full((units, 1), sign * 1e4), np.zeros(1))
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            scores = forward(np.array([[1, 1], [0, 0]]))
        np.testing.assert_allclose(scores.reshape(-1), [expected, 0.5])

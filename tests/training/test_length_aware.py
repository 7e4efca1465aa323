"""A length-aware model: the padding around a tweet changes nothing, and batches come back in order."""

import numpy as np
import pytest

from twitter_sentiment.bundle import SentimentModel
from twitter_sentiment.text import clean_tweet
from twitter_sentiment.vocabulary import pad

TWEETS = ["I love this so much, best day ever", "worst service I have ever had, never again",
          "ok", "the new phone is not bad at all but the battery dies fast and support was rude to me today",
          "meh", "thanks for the quick reply!", "I can't believe how good this is", "so sad today"]


@pytest.fixture(scope="module", params=[True, False], ids=["folded", "keras"])
def model(tiny_bundle, request):
    loaded = SentimentModel.load(tiny_bundle, fold_recurrent=request.param)
    assert loaded.length_aware and loaded.folded is request.param
    return loaded


def test_a_score_does_not_depend_on_the_padding_around_the_tweet(model):
    clean = [clean_tweet(t) for t in TWEETS]
    rows = model.vocabulary.ids(clean, model.sequence_length)
    forward = model._forward
    longest = max(len(r) for r in rows)
    alone = np.concatenate([np.asarray(forward(pad([row], len(row) or 1))).reshape(-1) for row in rows])
    batch_to_longest = np.asarray(forward(pad(rows, longest))).reshape(-1)
    batch_to_full_length = np.asarray(forward(pad(rows, model.sequence_length))).reshape(-1)
    np.testing.assert_allclose(batch_to_longest, alone, atol=1e-5)
    np.testing.assert_allclose(batch_to_full_length, alone, atol=1e-5)
    assert np.ptp(alone) > 0  # the model tells the tweets apart: the comparison means something


def test_scores_come_back_in_the_callers_order_whatever_the_grouping(model, monkeypatch):
    clean = [clean_tweet(t) for t in TWEETS]
    texts = clean * 40  # 320 tweets: several length groups, each sorted away from the request's order
    one_by_one = np.concatenate([model.score_clean([text]) for text in clean])
    together = model.score_clean(texts)
    np.testing.assert_allclose(together, np.tile(one_by_one, 40), atol=1e-5)
    monkeypatch.setattr("twitter_sentiment.bundle.LENGTH_GROUP", 3)
    np.testing.assert_allclose(model.score_clean(texts), together, atol=1e-5)


def test_the_compiled_forward_never_retraces_for_new_lengths_or_sizes(tiny_bundle):
    """Keras' own forward pass, compiled once (the folded one is NumPy: nothing to trace)."""
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("tf.function tracing is TensorFlow's")
    model = SentimentModel.load(tiny_bundle, fold_recurrent=False)
    for size in (1, 7, 64, 200):
        model.score_clean([clean_tweet(TWEETS[3])] * size)
        model.score_clean([clean_tweet(TWEETS[2])] * size)
    assert model._tf_forward.experimental_get_tracing_count() == 1


JAX_SHAPES = """
import json, sys
import keras
import numpy as np
from twitter_sentiment.bundle import SentimentModel

seen, own = [], keras.Model.predict_on_batch
def recording(model, ids):
    seen.append(len(ids))
    return own(model, ids)
keras.Model.predict_on_batch = recording
model = SentimentModel.load(sys.argv[1], fold_recurrent=False)
texts = ["love this so much", "worst service ever had", "great crew thanks", "so sad today"]
worst = 0.0
for size in range(1, 41):
    batch = [texts[i % 4] for i in range(size)]
    got = model.score_clean(batch)
    want = np.asarray(own(model.model, model.vocabulary.encode(batch, 8))).reshape(-1)
    worst = max(worst, float(np.abs(got - want).max()))
print(json.dumps({"backend": keras.backend.backend(), "sizes": sorted(set(seen)), "worst": worst}))
"""


@pytest.mark.slow
def test_keras_forward_pass_on_jax_sees_few_batch_sizes(tiny_bundle):
    """JAX compiles Keras' predict once per input shape (about 0.2 s each, measured on this machine), and the
    serving image runs Keras on JAX: a model that is not folded must not compile again for each new request
    size. Its batches are padded to a power of two rows; the scores are the unpadded batch's."""
    import json
    import os
    import subprocess
    import sys

    from tests.helpers import ROOT

    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    result = subprocess.run([sys.executable, "-c", JAX_SHAPES, str(tiny_bundle)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["backend"] == "jax"
    assert set(found["sizes"]) <= {1, 2, 4, 8, 16, 32, 64}, found["sizes"]
    assert found["worst"] < 1e-5

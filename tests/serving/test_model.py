"""The predictor without HTTP: the bundle's predictions, the batching, and every way to load a bundle."""

from __future__ import annotations

import asyncio
import shutil

import boto3
import pytest

from serving.batching import BatchingPredictor
from serving.loading import load_model
from serving.model import SentimentPredictor
from serving.settings import ServingSettings
from tests.helpers import free_port
from tests.serving.conftest import LIMITS_ENV, TWEETS
from twitter_sentiment.bundle import BundleError, SentimentModel, update_metadata
from twitter_sentiment.contract import LABELS
from twitter_sentiment.settings import load
from twitter_sentiment.storage import StorageError
from twitter_sentiment.store import ModelStore
from twitter_sentiment.text import clean_tweet


@pytest.fixture(scope="module")
def model(tiny_bundle):
    return SentimentModel.load(tiny_bundle)


def test_predictions_are_labelled_scores_in_order(model):
    predictions = model.predict(TWEETS)
    assert len(predictions) == len(TWEETS)
    for p in predictions:
        assert p.label in LABELS and 0.0 <= p.score <= 1.0
        assert p.label == model.thresholds.label(p.score)
    assert model.predict(TWEETS[::-1]) == predictions[::-1]  # order kept


def test_a_batch_scores_like_one_by_one(model):
    batch = [p.score for p in model.predict(TWEETS * 40)]  # 320 rows: one call
    alone = [model.predict([t])[0].score for t in TWEETS]
    assert batch == pytest.approx(alone * 40, abs=1e-5)


def test_scoring_more_than_one_chunk(model, monkeypatch):
    monkeypatch.setattr("twitter_sentiment.bundle.SCORE_CHUNK", 3)
    assert model.score_clean(["a b", "c", "d e f", "", "g"]).shape == (5,)


class CountingModel:
    """A model that records each call, so a test can see how requests were batched."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def predict_clean(self, texts):
        self.calls.append(len(texts))
        if "boom" in texts:
            raise RuntimeError("model failed")
        return self.model.predict_clean(texts)


def test_concurrent_requests_share_model_calls_and_keep_their_own_answers(model):
    counting = CountingModel(model)
    batching = BatchingPredictor(counting, max_batch=16)
    requests = [TWEETS[i % 8:i % 8 + 1 + i % 3] for i in range(40)]

    async def run():
        return await asyncio.gather(*(batching.predict(r) for r in requests))

    answers = asyncio.run(run())
    for request, answer in zip(requests, answers):
        assert [p.label for p in answer] == [p.label for p in model.predict_clean(request)]
        assert [p.score for p in answer] == pytest.approx([p.score for p in model.predict_clean(request)],
                                                          abs=1e-5)
    assert sum(counting.calls) == sum(map(len, requests))
    assert len(counting.calls) < len(requests) and max(counting.calls) <= 16
    batching.close()


def test_a_failing_model_call_fails_its_requests_and_the_next_call_runs(model):
    counting = CountingModel(model)
    batching = BatchingPredictor(counting)

    async def run():
        together = (batching.predict(["fine"]), batching.predict(["boom"]))
        failed = await asyncio.gather(*together, return_exceptions=True)
        return failed, await batching.predict(["after"])

    failed, after = asyncio.run(run())
    assert counting.calls == [2, 1]  # the two arrived together and shared the failing call
    assert all(isinstance(f, RuntimeError) for f in failed) and after[0].label in LABELS
    batching.close()


def test_predict_is_predict_clean_of_the_cleaned_texts(model):
    assert model.predict(TWEETS) == model.predict_clean([clean_tweet(t) for t in TWEETS])


# --- loading: STORAGE_URI in each of its forms -----------------------------------------------------------

def test_loads_a_bundle_directory(tiny_bundle):
    assert load_model(str(tiny_bundle)).version == "test-tiny"


@pytest.mark.parametrize("value, folded", [("true", True), ("false", False)])
def test_fold_recurrent_picks_the_forward_pass_with_the_same_scores(tiny_bundle, value, folded):
    predictor = SentimentPredictor(load(ServingSettings, {**LIMITS_ENV, "FOLD_RECURRENT": value},
                                        storage_uri=str(tiny_bundle)))
    predictor.load()
    assert predictor.predictor.model.folded is folded
    reference = SentimentModel.load(tiny_bundle, fold_recurrent=not folded).predict(TWEETS)
    served = predictor.predictor.model.predict(TWEETS)
    assert [p.label for p in served] == [p.label for p in reference]
    assert [p.score for p in served] == pytest.approx([p.score for p in reference], abs=1e-5)


def test_follows_latest_in_a_local_store(tiny_bundle, tmp_path):
    ModelStore(str(tmp_path / "store")).publish(tiny_bundle, "v1")
    assert load_model(str(tmp_path / "store")).version == "test-tiny"


def copy_of(bundle, tmp_path):
    return shutil.copytree(bundle, tmp_path / "bundle")


@pytest.mark.parametrize("damage, message", [
    (lambda b: (b / "vocabulary.json").unlink(), "vocabulary.json is missing"),
    (lambda b: (b / "metadata.json").unlink(), "neither a model bundle (metadata.json) nor a model store"),
    (lambda b: (b / "model.keras").write_bytes((b / "model.keras").read_bytes() + b"x"),
     "model.keras does not match its sha256"),
    (lambda b: update_metadata(b, {"bundle_format": 99}), "bundle format 99"),
    (lambda b: shutil.rmtree(b), "no such directory"),
])
def test_a_broken_bundle_is_refused_with_its_reason(tiny_bundle, tmp_path, damage, message):
    bundle = copy_of(tiny_bundle, tmp_path)
    damage(bundle)
    with pytest.raises(BundleError) as caught:
        load_model(str(bundle))
    assert message in str(caught.value)


def test_latest_naming_a_missing_version_is_refused(tmp_path):
    (tmp_path / "LATEST").write_text("v9\n")
    with pytest.raises(BundleError, match="LATEST names version 'v9', which does not exist"):
        load_model(str(tmp_path))


@pytest.fixture
def s3_store(aws_env, tiny_bundle):
    bucket = f"models-{free_port()}"
    boto3.client("s3").create_bucket(Bucket=bucket)
    uri = f"s3://{bucket}/models/twitter-sentiment"
    ModelStore(uri).publish(tiny_bundle, "v1")
    return uri


def test_loads_from_an_s3_store_following_latest(s3_store):
    assert load_model(s3_store).version == "test-tiny"
    assert load_model(s3_store + "/").version == "test-tiny"


def test_loads_from_an_s3_version_prefix(s3_store):
    assert load_model(f"{s3_store}/v1/").version == "test-tiny"


def test_s3_latest_naming_a_missing_version_is_refused(s3_store):
    bucket, key = s3_store[5:].split("/", 1)
    boto3.client("s3").put_object(Bucket=bucket, Key=f"{key}/LATEST", Body=b"v9")
    with pytest.raises(BundleError, match="names version 'v9', which does not exist"):
        load_model(s3_store)


def test_s3_version_missing_a_file_is_refused(s3_store):
    bucket, key = s3_store[5:].split("/", 1)
    boto3.client("s3").delete_object(Bucket=bucket, Key=f"{key}/v1/vocabulary.json")
    with pytest.raises(BundleError, match="vocabulary.json"):
        load_model(f"{s3_store}/v1/")


def test_s3_missing_bucket_is_refused(aws_env):
    with pytest.raises((StorageError, BundleError), match="does not exist"):
        load_model(f"s3://no-such-bucket-{free_port()}/models/twitter-sentiment")

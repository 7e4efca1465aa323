"""Shadow traffic on two real model-server processes: the served bundle and a challenger trained differently.
The challenger's answers are compared and counted, never stored; a slow or dead challenger never holds the
stream back (counted as dropped or failed)."""

from __future__ import annotations

import socket

import pytest

from streamer.scorer import ModelClient
from streamer.shadow import Shadow
from tests.helpers import free_port, model_server, train_bundle
from tests.streamer.conftest import Run, tweets_in
from twitter_sentiment.bundle import SentimentModel
from twitter_sentiment.contract import MODEL_NAME

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def challenger_bundle(tmp_path_factory):
    from twitter_sentiment.classifier import preset
    from twitter_sentiment.embeddings import Word2VecParams

    return train_bundle(tmp_path_factory.mktemp("challenger") / "bundle", 800,
                        Word2VecParams(vector_size=8, min_count=2, epochs=2, workers=1),
                        preset("default", sequence_length=20, units=4, epochs=1, batch_size=128), "test-challenger")


def with_shadow(run: Run, url: str, sample: float, pending: int | None = None) -> Shadow:
    shadow = Shadow(ModelClient(url, MODEL_NAME, timeout=60), sample, run.metrics)
    run.pipeline.shadow = shadow
    if pending:
        run.pipeline.shadow_pending = pending
    return shadow


def outcomes(run: Run) -> dict[str, float]:
    return {o: run.metrics.value("streamer_shadow_tweets_total", outcome=o)
            for o in ("agreed", "disagreed", "failed", "dropped")}


def test_a_challenger_is_compared_on_every_sampled_tweet_and_nothing_of_it_is_stored(
        replay_300, model_server_url, challenger_bundle, tiny_bundle, sqlite_sink, tmp_path):
    with model_server(challenger_bundle, log_path=tmp_path / "challenger.log") as challenger_url:
        run = Run(replay_300, model_server_url, sqlite_sink)
        with_shadow(run, challenger_url, 1.0, pending=1000)  # room for every batch: the comparison is exact
        summary = run()
        run.pipeline.shadow_thread.join(60)  # closed at the end of run(): it finishes what it holds
    counts = outcomes(run)
    served = SentimentModel.load(tiny_bundle).predict([m["data"]["text"] for m in tweets_in(replay_300)])
    other = SentimentModel.load(challenger_bundle).predict([m["data"]["text"] for m in tweets_in(replay_300)])
    agreed = sum(a.label == b.label for a, b in zip(served, other))
    assert counts == {"agreed": agreed, "disagreed": 300 - agreed, "failed": 0, "dropped": 0}
    assert run.metrics.value("streamer_shadow_agreement_rate") == pytest.approx(agreed / 300)
    assert run.metrics.value("streamer_shadow_score_difference_count") == 300
    difference = sum(abs(a.score - b.score) for a, b in zip(served, other))
    assert run.metrics.value("streamer_shadow_score_difference_sum") == pytest.approx(difference, abs=1e-3)
    assert summary.complete and summary.scored == 300
    assert {item["model_version"] for item in sqlite_sink.items()} == {"test-tiny"}  # the served model's only


def test_a_hung_or_dead_challenger_never_holds_the_stream_back(replay_300, model_server_url, sqlite_sink):
    # A challenger that accepts connections and never answers: every sampled batch beyond the few pending is dropped.
    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(64)
    try:
        run = Run(replay_300, model_server_url, sqlite_sink, batch_size=8)
        with_shadow(run, f"http://127.0.0.1:{hung.getsockname()[1]}", 1.0, pending=2)
        summary = run()
    finally:
        hung.close()
    counts = outcomes(run)
    assert summary.complete and summary.scored == 300
    assert counts["dropped"] > 0 and counts["agreed"] + counts["disagreed"] == 0

    dead = Run(replay_300, model_server_url, sqlite_sink)
    with_shadow(dead, f"http://127.0.0.1:{free_port()}", 1.0, pending=1000)
    summary = dead()
    dead.pipeline.shadow_thread.join(60)
    assert summary.complete and summary.scored == 300
    assert outcomes(dead)["failed"] == 300


def test_shadow_sample_off_by_default_and_needs_a_server():
    from streamer.config import ConfigError, StreamerSettings, load

    assert load(StreamerSettings, {"REPLAY_FILE": "r.jsonl"}).shadow_sample == 0
    with pytest.raises(ConfigError, match="^SHADOW_SAMPLE"):
        load(StreamerSettings, {"REPLAY_FILE": "r.jsonl", "SHADOW_SAMPLE": "0.1"})
    with pytest.raises(ConfigError, match="^SHADOW_SAMPLE"):
        load(StreamerSettings, {"REPLAY_FILE": "r.jsonl", "SHADOW_SAMPLE": "2", "SHADOW_MODEL_SERVER_URL": "http://x"})



"""The X API v2 filtered stream through tweepy, against recorded X API responses.

The X API cannot be reached from here (no network, no credentials), so its HTTP answers are
recorded responses served with the `responses` library: the rule endpoints' JSON as the API
documents it, and the stream as `\\r\\n`-separated messages with keep-alives. Everything above
HTTP is the real code: tweepy's StreamingClient, our rule synchronisation, the pipeline, the real
model server and a SQLite sink.
"""

from __future__ import annotations

import threading
import time

import pytest
import responses
from responses import matchers

from streamer.health import Metrics
from streamer.pipeline import Pipeline
from streamer.replay import DISCONNECT_MESSAGE, line, messages
from streamer.scorer import ModelClient
from streamer.sources import TweetListener, XSource, parse_rules, sync_rules
from twitter_sentiment.contract import MODEL_NAME
from twitter_sentiment.settings import ConfigError
from twitter_sentiment.text import clean_tweet

RULES_URL = "https://api.twitter.com/2/tweets/search/stream/rules"
STREAM_URL = "https://api.twitter.com/2/tweets/search/stream"
SENT = "2026-05-04T08:59:58.120Z"


def recorded_rules(*rules):
    """GET /2/tweets/search/stream/rules, as the API answers it."""
    if not rules:
        return {"meta": {"sent": SENT, "result_count": 0}}
    return {"data": [dict(rule) for rule in rules], "meta": {"sent": SENT, "result_count": len(rules)}}


def test_parse_rules_tags_and_language():
    rules = parse_rules("# comment\nbrand: (acme OR #acme) -is:retweet\n\nfrom:jack\nalready lang:fr\n", "en")
    assert [(r.value, r.tag) for r in rules] == [
        ("((acme OR #acme) -is:retweet) lang:en", "brand"),
        ("(from:jack) lang:en", None),  # "from:jack" has no space after the colon: it is a value
        ("already lang:fr", None),
    ]
    assert [r.value for r in parse_rules("cats", "")] == ["cats"]


@responses.activate
def test_sync_adds_missing_and_deletes_stale_rules():
    keep = {"id": "1790000000000000001", "value": "(cats) lang:en", "tag": "pets"}
    stale = {"id": "1790000000000000002", "value": "(dogs) lang:en", "tag": "pets"}
    responses.get(RULES_URL, json=recorded_rules(keep, stale),
                  match=[matchers.header_matcher({"Authorization": "Bearer test-token"})])
    delete = responses.post(RULES_URL, match=[matchers.json_params_matcher({"delete": {"ids": [stale["id"]]}})],
                            json={"meta": {"sent": SENT, "summary": {"deleted": 1, "not_deleted": 0}}})
    add = responses.post(
        RULES_URL, match=[matchers.json_params_matcher({"add": [{"value": "(birds) lang:en", "tag": "pets"}]})],
        json={"data": [{"value": "(birds) lang:en", "tag": "pets", "id": "1790000000000000003"}],
              "meta": {"sent": SENT, "summary": {"created": 1, "not_created": 0, "valid": 1, "invalid": 0}}})
    client = TweetListener("test-token", lambda tweet: None, Metrics(), 1000)
    added, deleted = sync_rules(client, parse_rules("pets: cats\npets: birds", "en"))
    assert [r.value for r in added] == ["(birds) lang:en"] and [r.id for r in deleted] == [stale["id"]]
    assert delete.call_count == 1 and add.call_count == 1


@responses.activate
def test_sync_does_nothing_when_rules_match():
    responses.get(RULES_URL, json=recorded_rules({"id": "1", "value": "(cats) lang:en"}))
    client = TweetListener("test-token", lambda tweet: None, Metrics(), 1000)
    assert sync_rules(client, parse_rules("cats", "en")) == ([], [])
    assert len(responses.calls) == 1  # no POST


@responses.activate
def test_a_rule_the_api_refuses_is_a_configuration_error():
    responses.get(RULES_URL, json=recorded_rules())
    responses.post(RULES_URL, json={
        "meta": {"sent": SENT, "summary": {"created": 0, "not_created": 1, "valid": 0, "invalid": 1}},
        "errors": [{"value": "(cats OR) lang:en", "details": ["Rules must contain a non-negation term (at position 7)"],
                    "title": "UnprocessableEntity", "type": "https://api.twitter.com/2/problems/invalid-rules"}]})
    client = TweetListener("test-token", lambda tweet: None, Metrics(), 1000)
    with pytest.raises(ConfigError, match="non-negation term"):
        sync_rules(client, parse_rules("cats OR", "en"))


@pytest.mark.slow
def test_the_live_stream_into_sqlite_reconnects_and_stores_duplicates_once(model_server_url, sqlite_sink):
    tweets = [m for m in messages(40, seed=3) if m and "data" in m]
    body = b"\r\n" + b"".join(line(m) for m in tweets[:20]) + line(DISCONNECT_MESSAGE) + b"\r\n" \
        + b"".join(line(m) for m in tweets[20:])
    wanted = {"tweet.fields": "created_at,author_id,lang", "expansions": "author_id", "user.fields": "username,name"}
    metrics = Metrics()
    model = ModelClient(model_server_url, MODEL_NAME)
    source = XSource("test-token", parse_rules("sentiment sample: coachella OR deflategate", "en"), metrics, 1000,
                     max_backoff=0.1)
    pipeline = Pipeline(source, model, sqlite_sink, metrics, batch_size=16, batch_max_wait_ms=20, grace_seconds=5)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as api:
        api.get(RULES_URL, json=recorded_rules())
        api.post(RULES_URL, json={"data": [{"value": "(coachella OR deflategate) lang:en", "tag": "sentiment sample",
                                            "id": "1798310211146543104"}],
                                  "meta": {"sent": SENT, "summary": {"created": 1, "not_created": 0}}})
        # The stream ends twice (a server-side close, then an operational reconnect that redelivers
        # everything, as backfill would); after that the connection fails until we stop.
        stream = [api.get(STREAM_URL, body=body, match=[matchers.query_param_matcher(wanted)]) for _ in range(2)]
        api.get(STREAM_URL, body=ConnectionError("network down"))
        runner = threading.Thread(target=pipeline.run, daemon=True)
        runner.start()
        deadline = time.monotonic() + 60
        while metrics.value("streamer_tweets_stored_total") < 80 and time.monotonic() < deadline:
            time.sleep(0.05)
        pipeline.request_stop()
        runner.join(15)
    assert not runner.is_alive()
    assert all(call.call_count == 1 for call in stream)
    assert metrics.value("streamer_tweets_received_total") == 80  # 40 tweets, delivered twice
    # Per delivery: the operational disconnect, and the tweet whose author could not be hydrated.
    assert metrics.value("streamer_stream_errors_total", kind="message") == 4
    items = {item["id"]: item for item in sqlite_sink.items()}
    assert len(items) == 40 and len(sqlite_sink.items()) == 40
    for message in tweets:
        item = items[message["data"]["id"]]
        assert item["twitter_raw"] == message["data"]["text"]
        assert item["twitter_clean"] == clean_tweet(message["data"]["text"])
        users = message["includes"].get("users") or [{"username": message["data"]["author_id"]}]
        assert item["user"] == users[0]["username"]
        assert item["date"] == message["data"]["created_at"]
        assert item["model_version"] == "test-tiny" and item["sentiment"] in ("POSITIVE", "NEUTRAL", "NEGATIVE")


@pytest.mark.slow
def test_backfill_minutes_is_asked_on_every_connection_and_its_duplicates_are_stored_once(model_server_url,
                                                                                         sqlite_sink):
    from tests.streamer.recorded_x_api import RecordedStream, recorded_x_api

    tweets = [m for m in messages(60, seed=4) if m and "data" in m]
    stream = RecordedStream([line(m).rstrip(b"\r\n") for m in tweets])
    metrics = Metrics()
    with recorded_x_api(stream) as x_api:
        source = XSource("test-token", parse_rules("cats", "en"), metrics, 1000, api_url=x_api, backfill_minutes=2,
                         max_backoff=0.1)
        pipeline = Pipeline(source, ModelClient(model_server_url, MODEL_NAME), sqlite_sink, metrics, batch_size=16,
                            batch_max_wait_ms=20, grace_seconds=5)
        runner = threading.Thread(target=pipeline.run, daemon=True)
        runner.start()
        stream.allowed = 30
        deadline = time.monotonic() + 60
        while metrics.value("streamer_tweets_stored_total") < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        stream.hang_up()  # the connection drops: tweepy reconnects, with backfill_minutes again
        stream.allowed = len(tweets)
        while metrics.value("streamer_tweets_received_total") < 90 and time.monotonic() < deadline:
            time.sleep(0.05)
        pipeline.request_stop()
        runner.join(15)
    assert not runner.is_alive()
    assert len(stream.connections) >= 2 and all(q.get("backfill_minutes") == ["2"] for q in stream.connections)
    assert metrics.value("streamer_tweets_received_total") >= 90  # the first 30 came twice
    assert sorted(item["id"] for item in sqlite_sink.items()) == sorted(m["data"]["id"] for m in tweets)

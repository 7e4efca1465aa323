"""Replays through tweepy's parser into the real model server and DynamoDB Local or SQLite, field by field."""

from __future__ import annotations

import json

import httpx
import pytest

from streamer.health import HealthServer
from streamer.replay import line, messages
from streamer.sinks import DynamoDBSink
from tests.helpers import free_port
from tests.streamer.conftest import Run, check_items

pytestmark = pytest.mark.slow  # a real model-server process


def test_replay_into_dynamodb_local(replay_300, model_server_url, dynamodb_sink, reference, tiny_bundle):
    summary = Run(replay_300, model_server_url, dynamodb_sink)()
    assert (summary.received, summary.scored, summary.stored, summary.rejected) == (300, 300, 300, 0)
    assert summary.complete
    check_items(dynamodb_sink.items(), replay_300, reference, tiny_bundle)


def test_replay_into_sqlite(replay_300, model_server_url, sqlite_sink, reference, tiny_bundle):
    summary = Run(replay_300, model_server_url, sqlite_sink)()
    assert summary.complete and summary.scored == 300
    check_items(sqlite_sink.items(), replay_300, reference, tiny_bundle)


def test_the_same_replay_twice_stores_each_tweet_once(replay_300, model_server_url, dynamodb_sink, reference,
                                                      tiny_bundle):
    first = Run(replay_300, model_server_url, dynamodb_sink)()
    items = sorted(dynamodb_sink.items(), key=lambda i: i["id"])
    second = Run(replay_300, model_server_url, dynamodb_sink)()
    assert first.complete and second.complete and second.stored == 300
    assert sorted(dynamodb_sink.items(), key=lambda i: i["id"]) == items
    check_items(items, replay_300, reference, tiny_bundle)


def test_dynamodb_rejecting_part_of_batches(replay_300, model_server_url, dynamodb_table, reference, tiny_bundle):
    from tests.streamer.test_sinks import PartlyUnprocessed

    client, name = dynamodb_table
    flaky = PartlyUnprocessed(client, times=12)
    sink = DynamoDBSink(name, flaky)
    run = Run(replay_300, model_server_url, sink, max_backoff=0.05)
    summary = run()
    assert flaky.returned > 0 and run.metrics.value("streamer_retries_total", target="sink") >= 12
    assert summary.complete
    check_items(sink.items(), replay_300, reference, tiny_bundle)


def test_bad_tweets_are_stored_as_rejected_and_the_stream_goes_on(tmp_path, model_server_url, sqlite_sink):
    good = [m for m in messages(30, seed=5) if m and "data" in m][:20]
    bad_text = json.loads(json.dumps(good[0]))
    bad_text["data"].update(id="1", text="@nobody http://t.co/x")
    no_text = json.loads(json.dumps(good[0]))
    no_text["data"].update(id="2")
    del no_text["data"]["text"]
    long_text = json.loads(json.dumps(good[0]))
    long_text["data"].update(id="3", text="word " * 300)
    lines = [line(m) for m in good[:10]] + [line(bad_text), b'{"data": {"id": "4", "te\r\n', line(no_text),
                                            line(long_text)] + [line(m) for m in good[10:]]
    replay = tmp_path / "bad.jsonl"
    replay.write_bytes(b"".join(lines))
    run = Run(replay, model_server_url, sqlite_sink)
    summary = run()
    assert summary.received == 24 and summary.scored == 20 and summary.rejected == 4 and summary.complete
    by_id = {item["id"]: item for item in sqlite_sink.items()}
    assert len(by_id) == 24
    assert by_id["1"]["sentiment"] == "REJECTED" and by_id["1"]["reason"].startswith("empty_after_cleaning")
    assert by_id["2"]["reason"].startswith("no_text")
    assert by_id["3"]["reason"].startswith("too_long") and by_id["3"]["twitter_raw"] == long_text["data"]["text"]
    (unreadable,) = [i for i in by_id.values() if i["id"].startswith("invalid-")]
    assert unreadable["reason"].startswith("not_json") and unreadable["twitter_raw"] == '{"data": {"id": "4", "te'
    for reason in ("empty_after_cleaning", "no_text", "too_long", "not_json"):
        assert run.metrics.value("streamer_tweets_rejected_total", reason=reason) == 1


def test_a_tweet_the_model_server_refuses_is_isolated(tmp_path, model_server_url, sqlite_sink):
    # The streamer is configured to allow longer texts than the model server (1000 characters):
    # the server refuses the batch with a 400; halving it finds the one tweet, the rest are scored.
    tweets = [m for m in messages(40, seed=9) if m and "data" in m]
    tweets[17]["data"]["text"] = "long " * 250
    replay = tmp_path / "refused.jsonl"
    replay.write_bytes(b"".join(line(m) for m in tweets))
    run = Run(replay, model_server_url, sqlite_sink, max_text_length=5000, batch_size=64)
    summary = run()
    assert summary.complete and summary.scored == 39 and summary.rejected == 1
    refused = {i["id"]: i for i in sqlite_sink.items()}[tweets[17]["data"]["id"]]
    assert refused["sentiment"] == "REJECTED" and refused["reason"].startswith("model_server_refused")
    assert run.metrics.value("streamer_tweets_rejected_total", reason="model_server_refused") == 1


def test_health_reports_each_dependency_and_metrics_count(replay_300, model_server_url, sqlite_sink):
    def serve(run: Run) -> HealthServer:
        return HealthServer(0, {"source": run.source.check, "model_server": run.model.ready, "sink": run.sink.check},
                            run.metrics, host="127.0.0.1").start()

    dead = Run(replay_300, f"http://127.0.0.1:{free_port()}", sqlite_sink)
    health = serve(dead)
    try:
        base = f"http://127.0.0.1:{health.port}"
        assert httpx.get(f"{base}/livez").status_code == 200  # alive, whatever its dependencies do
        response = httpx.get(f"{base}/healthz")
        assert response.status_code == 503
        report = response.json()
        assert report["status"] == "unavailable" and not report["model_server"]["reachable"]
        assert report["source"]["reachable"] and report["sink"]["reachable"]
    finally:
        health.stop()
        dead.model.close()

    run = Run(replay_300, model_server_url, sqlite_sink)
    health = serve(run)
    try:
        base = f"http://127.0.0.1:{health.port}"
        response = httpx.get(f"{base}/healthz")
        assert response.status_code == 200 and response.json()["status"] == "ok"
        run()
        metrics = httpx.get(f"{base}/metrics").text
        for sample in ("streamer_tweets_received_total 300.0", "streamer_tweets_scored_total 300.0",
                       "streamer_tweets_stored_total 300.0", "streamer_queue_depth 0.0"):
            assert sample in metrics
        for counter in ("streamer_retries_total", "streamer_tweets_rejected_total", "streamer_batch_size_bucket"):
            assert f"# TYPE {counter.removesuffix('_bucket').removesuffix('_total')}" in metrics
    finally:
        health.stop()


def test_stream_returns_the_runs_counts(replay_300, model_server_url, tmp_path):
    import signal

    from streamer.__main__ import stream
    from streamer.config import StreamerSettings, load

    handler = signal.getsignal(signal.SIGTERM)
    summary = stream(load(StreamerSettings, {"REPLAY_FILE": str(replay_300), "MODEL_SERVER_URL": model_server_url,
                                             "SQLITE_PATH": str(tmp_path / "r.sqlite"), "HEALTH_PORT": "0"}))
    assert (summary.received, summary.scored, summary.stored, summary.error) == (300, 300, 300, None)
    assert summary.complete and signal.getsignal(signal.SIGTERM) == handler

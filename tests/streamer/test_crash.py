"""`kill -9` mid-stream loses nothing: recorded X stream bytes, a real `python -m streamer run` with a journal,
the real model server and DynamoDB Local; restarted, every tweet received is stored exactly once."""

from __future__ import annotations

import os
import signal

import pytest

from streamer.replay import line, messages
from streamer.sinks import DynamoDBSink
from tests.helpers import free_port
from tests.streamer.conftest import serving_on
from tests.streamer.recorded_x_api import RecordedStream, recorded_x_api
from tests.streamer.test_faults import metric, start_streamer, stop, wait_until
from twitter_sentiment import dynamodb_local

pytestmark = pytest.mark.slow


def test_kill_9_mid_stream_then_restart_stores_every_tweet_once(tiny_bundle, dynamodb_table, dynamodb_endpoint,
                                                                 tmp_path):
    _, table = dynamodb_table
    recorded = [m for m in messages(400, seed=17) if m and "data" in m]
    stream = RecordedStream([line(m).rstrip(b"\r\n") for m in recorded])
    model_port = free_port()
    journal = tmp_path / "journal"
    with recorded_x_api(stream) as x_api:
        env = {"SOURCE": "x", "X_BEARER_TOKEN": "test-token", "STREAM_RULES": "sentiment sample: coachella",
               "X_API_URL": x_api, "MODEL_SERVER_URL": f"http://127.0.0.1:{model_port}", "SINK": "dynamodb",
               "DYNAMODB_TABLE": table, "JOURNAL_DIR": str(journal), "QUEUE_SIZE": "1000", "BATCH_SIZE": "32",
               "SHUTDOWN_GRACE_SECONDS": "10", "REPLAY_FILE": "", **dynamodb_local.env(dynamodb_endpoint)}
        # 1. The model server is not up yet: 250 tweets are received, queued and journaled, none stored.
        first, port = start_streamer(env, tmp_path / "first.log")
        try:
            stream.allowed = 250
            wait_until(lambda: metric(port, "streamer_tweets_received_total") == 250, 60, "250 tweets received")
            assert metric(port, "streamer_tweets_stored_total") == 0
        finally:
            os.kill(first.pid, signal.SIGKILL)  # no shutdown of any kind: the queue is gone with the process
            first.wait()
        assert list(journal.iterdir())  # what the queue held is on disk

        # 2. Restarted with the model server up: the journal's tweets first, then the stream goes on.
        with serving_on(tiny_bundle, model_port, tmp_path / "server.log"):
            second, port = start_streamer(env, tmp_path / "second.log")
            try:
                stream.allowed = len(recorded)
                wait_until(lambda: metric(port, "streamer_tweets_stored_total") >= len(recorded), 120,
                           "every tweet stored")
                assert metric(port, "streamer_tweets_recovered_total") == 250
            except BaseException:
                second.kill()
                raise
            status, summary = stop(second, 10)
    assert status == 0 and summary["unstored"] == 0
    items = DynamoDBSink(table, dynamodb_local.client(dynamodb_endpoint)).items()
    ids = [item["id"] for item in items]
    assert sorted(ids) == sorted(m["data"]["id"] for m in recorded)  # each once, none missing
    assert all(item["sentiment"] in ("POSITIVE", "NEUTRAL", "NEGATIVE") for item in items)
    assert stream.position == len(recorded) and len(stream.connections) == 2  # X sent each line once
    assert not list(journal.iterdir())  # all stored: the journal is empty again

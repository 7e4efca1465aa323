"""Fixtures for the streamer: DynamoDB Local, the real model server, replay files, a pipeline runner."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import uuid
from decimal import Decimal
from pathlib import Path

import pytest

from streamer.health import Metrics
from streamer.pipeline import Pipeline
from streamer.replay import write_replay
from streamer.scorer import ModelClient
from streamer.sinks import DynamoDBSink, SQLiteSink, create_table
from streamer.sources import ReplaySource
from tests.helpers import free_port, model_server, running
from twitter_sentiment import dynamodb_local
from twitter_sentiment.bundle import SentimentModel, Thresholds, read_metadata
from twitter_sentiment.contract import MODEL_NAME, ready_path
from twitter_sentiment.text import clean_tweet


@pytest.fixture
def dynamodb_table(dynamodb_endpoint):
    """A fresh results table: (client, table name)."""
    client = dynamodb_local.client(dynamodb_endpoint)
    name = f"results-{uuid.uuid4().hex[:8]}"
    create_table(client, name)
    yield client, name
    client.delete_table(TableName=name)


@pytest.fixture(scope="session")
def model_server_url(tiny_bundle, tmp_path_factory):
    """The real model server (`python -m serving`) with the tiny bundle, for the whole session."""
    with model_server(tiny_bundle, log_path=tmp_path_factory.mktemp("serving") / "server.log") as url:
        yield url


@contextlib.contextmanager
def serving_on(bundle: Path, port: int, log_path: Path | None = None):
    """The model server on a given port (to stop and start it again at the same address). Yields the Popen."""
    url = f"http://127.0.0.1:{port}"
    with running([sys.executable, "-m", "serving", "--http_port", str(port)],
                 url + ready_path(MODEL_NAME),
                 env={"STORAGE_URI": str(bundle), "MODEL_NAME": MODEL_NAME}, log_path=log_path,
                 timeout=120) as process:
        yield process


@pytest.fixture(scope="session")
def replay_300(tmp_path_factory):
    path = tmp_path_factory.mktemp("replay") / "tweets-300.jsonl"
    write_replay(path, 300)
    return path


@pytest.fixture(scope="session")
def replay_2000(tmp_path_factory):
    path = tmp_path_factory.mktemp("replay") / "tweets-2000.jsonl"
    write_replay(path, 2000, seed=11)
    return path


def tweets_in(path: Path) -> list[dict]:
    """The tweet messages of a replay file, read independently of the streamer (plain json)."""
    messages = [json.loads(line) for line in Path(path).read_bytes().split(b"\r\n") if line.strip()]
    return [message for message in messages if "data" in message]


@pytest.fixture(scope="session")
def reference(tiny_bundle):
    """The bundle loaded in this process: what the model server should answer for each text."""
    return SentimentModel.load(tiny_bundle)


def check_items(items: list[dict], replay, reference, bundle) -> None:
    """Every tweet of the replay is stored once, each field what it should be."""
    tweets = tweets_in(replay)
    by_id = {item["id"]: item for item in items}
    assert len(items) == len(by_id) == len(tweets)
    thresholds = Thresholds(**(read_metadata(bundle).get("thresholds") or {}))
    expected = reference.predict([m["data"]["text"] for m in tweets])
    for message, prediction in zip(tweets, expected):
        data = message["data"]
        item = by_id[data["id"]]
        users = {u["id"]: u["username"] for u in message.get("includes", {}).get("users", [])}
        assert set(item) == {"id", "user", "sentiment", "score", "twitter_raw", "twitter_clean", "date",
                             "model_version"}
        assert item["user"] == users.get(data["author_id"], data["author_id"])
        assert item["twitter_raw"] == data["text"]
        assert item["twitter_clean"] == clean_tweet(data["text"])
        assert item["date"] == data["created_at"]
        assert item["model_version"] == "test-tiny"
        assert isinstance(item["score"], Decimal)
        assert float(item["score"]) == pytest.approx(prediction.score, abs=1e-4)
        assert item["sentiment"] == thresholds.label(float(item["score"]))


class Run:
    """A pipeline over a replay file, run in a thread (so a test can break things while it runs)."""

    def __init__(self, replay: Path, model_url: str, sink, *, rate: float = 0.0, queue_size: int = 10000,
                 batch_size: int = 64, max_backoff: float = 1.0, max_text_length: int = 1000,
                 grace_seconds: float = 25.0, journal=None):
        self.metrics = Metrics()
        self.model = ModelClient(model_url, MODEL_NAME)
        self.sink = sink
        self.source = ReplaySource(str(replay), self.metrics, max_text_length, rate)
        self.pipeline = Pipeline(self.source, self.model, sink, self.metrics, batch_size=batch_size,
                                 batch_max_wait_ms=20, queue_size=queue_size, grace_seconds=grace_seconds,
                                 max_backoff=max_backoff, journal=journal)
        self.summary = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        self.summary = self.pipeline.run()

    def start(self) -> Run:
        self._thread.start()
        return self

    def wait(self, timeout: float = 120.0):
        self._thread.join(timeout)
        assert not self._thread.is_alive(), f"pipeline still running after {timeout}s: {self.pipeline.summary(0)}"
        self.model.close()
        return self.summary

    def __call__(self, timeout: float = 120.0):
        return self.start().wait(timeout)


@pytest.fixture
def sqlite_sink(tmp_path):
    sink = SQLiteSink(str(tmp_path / "results.sqlite"))
    yield sink
    sink.close()


@pytest.fixture
def dynamodb_sink(dynamodb_table):
    client, name = dynamodb_table
    return DynamoDBSink(name, client)


__all__ = ["Run", "check_items", "free_port", "serving_on", "tweets_in"]

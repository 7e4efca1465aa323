"""The README's main command on a small slice: train, serve, stream a replay, store, report.

Once into SQLite (the default), once into a DynamoDB Local the test started (the run must use it and
start nothing), and once with SINK=dynamodb alone (the run starts DynamoDB Local and stops it)."""

import json
import os
import sqlite3
import subprocess
import sys
from decimal import Decimal

import pytest

from tests.helpers import ROOT, free_port
from twitter_sentiment import dynamodb_local
from twitter_sentiment.contract import RESULTS_TABLE
from twitter_sentiment.processes import port_taken
from twitter_sentiment.text import TextRejected, clean_tweet, scorable_text

pytestmark = pytest.mark.slow  # each run trains a model and starts the model server

SMALL = ["--", "--sample-rows", "1500", "--param", "w2v_vector_size=16", "--param", "w2v_min_count=2",
         "--param", "w2v_epochs=2", "--param", "epochs=2", "--param", "units=8", "--param", "sequence_length=20",
         "--min-accuracy", "0"]
FIELDS = {"id", "user", "sentiment", "score", "twitter_raw", "twitter_clean", "date", "model_version"}


def quickstart(tmp_path, *args, env=None):
    # The caller's sink and AWS variables stay out: each run says where it stores.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("SINK", "SQLITE_PATH")}
    return subprocess.run([sys.executable, "-m", "quickstart", "--results", str(tmp_path / "results"),
                           "--model-store", str(tmp_path / "store"), "--port", str(free_port()), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=600,
                          env={**clean, "AWS_CONFIG_FILE": str(tmp_path / "none"),
                               "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), **(env or {"SINK": "sqlite"})})


def check_every_item(items: list[dict], tmp_path) -> None:
    """Each tweet of the replay stored once, each field what the published model says."""
    from twitter_sentiment.bundle import SentimentModel

    replay = [json.loads(line) for line in (tmp_path / "results" / "replay-300.jsonl").read_text().splitlines()
              if line.strip()]
    sent = {m["data"]["id"]: m for m in replay if "data" in m}
    by_id = {item["id"]: item for item in items}
    assert len(items) == len(by_id) == len(sent) == 300
    version = (tmp_path / "store" / "LATEST").read_text().strip()
    model = SentimentModel.load(tmp_path / "store" / version)
    for tweet_id, message in sent.items():
        data, item = message["data"], by_id[tweet_id]
        users = {u["id"]: u["username"] for u in message.get("includes", {}).get("users", [])}
        assert item["user"] == users.get(data["author_id"], data["author_id"])
        assert (item["twitter_raw"], item["twitter_clean"], item["date"]) == (
            data["text"], clean_tweet(data["text"]), data["created_at"])
        try:
            scorable_text(data["text"], max_length=1000)
        except TextRejected as rejected:
            assert item["sentiment"] == "REJECTED" and item["reason"].startswith(rejected.reason)
            continue
        assert set(item) == FIELDS and item["model_version"] == version
        expected = model.predict([data["text"]])[0]
        assert float(item["score"]) == pytest.approx(expected.score, abs=1e-4)
        assert item["sentiment"] == model.thresholds.label(float(item["score"]))


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("quickstart")
    return tmp_path, quickstart(tmp_path, "--tweets", "300", *SMALL)


def test_it_runs_end_to_end(finished):
    tmp_path, result = finished
    assert result.returncode == 0, result.stdout + result.stderr
    for step in ("1/5 training", "2/5 starting the model server", "3/5 streaming", "4/5 summary", "5/5 report"):
        assert step in result.stdout
    assert "tweets received    300" in result.stdout and "stored             300" in result.stdout
    assert "curl -s http://127.0.0.1:" in result.stdout
    assert "champion/challenger: no champion yet" in result.stdout
    assert "monitor: stable (300 results" in result.stdout or "monitor: drift (300 results" in result.stdout


def test_every_tweet_is_stored_once_with_its_fields(finished):
    tmp_path, _ = finished
    with sqlite3.connect(tmp_path / "results" / "results.sqlite") as db:
        db.row_factory = sqlite3.Row
        items = [{k: v for k, v in dict(row).items() if v is not None} for row in db.execute("SELECT * FROM results")]
    check_every_item(items, tmp_path)


def test_the_report_is_written(finished):
    tmp_path, _ = finished
    png = (tmp_path / "results" / "report.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    page = (tmp_path / "results" / "report.html").read_text()
    assert "data:image/png;base64," in page and "tweets received" in page


def test_the_model_server_is_stopped(finished):
    tmp_path, result = finished
    assert "everything started was stopped" in result.stdout
    log = (tmp_path / "results" / "logs" / "serve.log").read_text()
    assert "ready" in log


def test_a_failing_step_is_named_with_its_log(tmp_path):
    result = quickstart(tmp_path, "--dataset-uri", str(tmp_path / "missing.csv"))
    assert result.returncode == 1
    assert "step 'train' failed" in result.stderr
    assert str(tmp_path / "results" / "logs" / "train.log") in result.stderr


@pytest.fixture(scope="module")
def dynamodb_endpoint():
    if dynamodb_local.find_jar() is None and not os.environ.get("CI"):
        pytest.skip(f"DynamoDB Local is not installed: run `{dynamodb_local.INSTALL_COMMAND}`")
    with dynamodb_local.dynamodb_local() as endpoint:
        yield endpoint


def test_sink_dynamodb_with_an_endpoint_uses_it_and_stores_every_tweet(dynamodb_endpoint, tmp_path):
    from streamer.sinks import DynamoDBSink

    result = quickstart(tmp_path, "--tweets", "300", *SMALL,
                        env={"SINK": "dynamodb", **dynamodb_local.env(dynamodb_endpoint)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "starting DynamoDB Local" not in result.stdout  # the one it was given
    assert f"--endpoint-url {dynamodb_endpoint}" in result.stdout  # the query line
    items = DynamoDBSink(RESULTS_TABLE, dynamodb_local.client(dynamodb_endpoint)).items()
    assert all(isinstance(item["score"], Decimal) for item in items if "score" in item)
    check_every_item(items, tmp_path)
    assert "stored             300" in result.stdout  # the summary read them back from DynamoDB


def test_sink_dynamodb_alone_starts_dynamodb_local_and_stops_it(tmp_path):
    """What a new user types: SINK=dynamodb and nothing else (issue 17)."""
    if dynamodb_local.find_jar() is None and not os.environ.get("CI"):
        pytest.skip(f"DynamoDB Local is not installed: run `{dynamodb_local.INSTALL_COMMAND}`")
    result = quickstart(tmp_path, "--tweets", "300", *SMALL, env={"SINK": "dynamodb"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0/5 starting DynamoDB Local" in result.stdout
    assert "tweets received    300" in result.stdout and "stored             300" in result.stdout
    query = next(line for line in result.stdout.splitlines() if "query them:" in line)
    assert "aws dynamodb scan --table-name twitter-sentiment-results" in query and "--region us-east-1" in query
    port = int(query.split("--endpoint-url http://127.0.0.1:")[1].split()[0])
    assert not port_taken(port)  # stopped at the end


@pytest.mark.slow
def test_a_second_run_shows_the_champion_challenger_decision(finished):
    tmp_path, first = finished
    from twitter_sentiment.store import ModelStore

    champion = ModelStore(str(tmp_path / "store")).latest()
    second = quickstart(tmp_path, "--tweets", "300", *SMALL)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "champion/challenger: the challenger" in second.stdout and champion in second.stdout
    assert "monitor: " in second.stdout and "# Monitor: " in second.stdout

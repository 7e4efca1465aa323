"""The README's main command on a small slice: train, serve, stream a replay, store, report."""

import json
import sqlite3
import subprocess
import sys

import pytest

from tests.helpers import ROOT, free_port
from twitter_sentiment.bundle import Thresholds

SMALL = ["--", "--sample-rows", "1500", "--param", "w2v_vector_size=16", "--param", "w2v_min_count=2",
         "--param", "w2v_epochs=2", "--param", "epochs=2", "--param", "units=8", "--param", "sequence_length=20",
         "--min-accuracy", "0"]


def quickstart(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "quickstart", "--results", str(tmp_path / "results"),
                           "--model-store", str(tmp_path / "store"), "--port", str(free_port()), *args],
                          capture_output=True, text=True, cwd=ROOT, timeout=600, env={"SINK": "sqlite",
                                                                                       **_env()})


def _env():
    import os

    return {k: v for k, v in os.environ.items() if k not in ("SINK", "SQLITE_PATH")}


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
    replay = [json.loads(line) for line in (tmp_path / "results" / "replay-300.jsonl").read_text().splitlines()
              if line.strip()]
    sent = {m["data"]["id"]: m["data"] for m in replay if "data" in m}
    with sqlite3.connect(tmp_path / "results" / "results.sqlite") as db:
        rows = db.execute("SELECT id, sentiment, score, twitter_raw, date, model_version FROM results").fetchall()
    assert len(rows) == len(sent) == 300
    version = (tmp_path / "store" / "LATEST").read_text().strip()
    for tweet_id, sentiment, score, raw, date, model_version in rows:
        assert raw == sent[tweet_id]["text"] and date == sent[tweet_id]["created_at"]
        assert sentiment == Thresholds().label(score) and model_version == version


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


@pytest.mark.slow
def test_a_second_run_shows_the_champion_challenger_decision(finished):
    tmp_path, first = finished
    from twitter_sentiment.store import ModelStore

    champion = ModelStore(str(tmp_path / "store")).latest()
    second = quickstart(tmp_path, "--tweets", "300", *SMALL)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "champion/challenger: the challenger" in second.stdout and champion in second.stdout
    assert "monitor: " in second.stdout and "# Monitor: " in second.stdout

"""The streamer's settings: typed, bounded, secret token; a bad value stops `python -m streamer run` with exit 1
and one sentence naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from streamer.config import ConfigError, StreamerSettings, load
from tests.helpers import ROOT
from twitter_sentiment import contract

REPLAY = {"SOURCE": "replay", "REPLAY_FILE": "replay.jsonl"}


def test_defaults_come_from_the_contract():
    settings = load(StreamerSettings, REPLAY)
    assert settings.model_name == contract.MODEL_NAME and settings.dynamodb_table == contract.RESULTS_TABLE
    assert settings.max_instances == contract.MAX_INSTANCES and settings.max_text_length == contract.MAX_TEXT_LENGTH
    assert settings.predict_url == "http://localhost:8080" + contract.predict_path()
    assert settings.ready_url == "http://localhost:8080" + contract.ready_path()
    assert load(StreamerSettings, {**REPLAY, "MODEL_SERVER_URL": "http://m:80/"}).model_server_url == "http://m:80"


@pytest.mark.parametrize("env, variable", [
    ({"SOURCE": "kafka"}, "SOURCE"),
    ({"BATCH_SIZE": "abc"}, "BATCH_SIZE"),
    ({"BATCH_SIZE": "0"}, "BATCH_SIZE"),
    ({"BATCH_SIZE": "2000"}, "BATCH_SIZE"),  # over MAX_INSTANCES: the server would refuse every batch
    ({"MAX_INSTANCES": "16", "BATCH_SIZE": "64"}, "BATCH_SIZE"),
    ({"QUEUE_SIZE": "-1"}, "QUEUE_SIZE"),
    ({"SINK": "postgres"}, "SINK"),
    ({"REPLAY_RATE": "fast"}, "REPLAY_RATE"),
    ({"SHUTDOWN_GRACE_SECONDS": "0"}, "SHUTDOWN_GRACE_SECONDS"),
    ({"HEALTH_PORT": "70000"}, "HEALTH_PORT"),
    ({"BACKFILL_MINUTES": "6"}, "BACKFILL_MINUTES"),  # X allows 1-5
    ({"REPLAY_FILE": ""}, "REPLAY_FILE"),
])
def test_a_bad_value_names_its_variable(env, variable):
    with pytest.raises(ConfigError, match=rf"^{variable}\b"):
        load(StreamerSettings, {**REPLAY, **env})


def test_the_token_is_a_secret():
    settings = load(StreamerSettings, {"SOURCE": "x", "X_BEARER_TOKEN": "AAAA-secret", "STREAM_RULES": "cats"})
    assert settings.x_bearer_token.get_secret_value() == "AAAA-secret"
    assert "AAAA-secret" not in repr(settings) and "AAAA-secret" not in str(settings)
    with pytest.raises(ConfigError, match="^X_BEARER_TOKEN: SOURCE=x needs it"):
        load(StreamerSettings, {"SOURCE": "x", "STREAM_RULES": "cats"})
    with pytest.raises(ConfigError, match="^STREAM_RULES"):
        load(StreamerSettings, {"SOURCE": "x", "X_BEARER_TOKEN": "AAAA-secret"})


def run_streamer(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streamer", "run"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={**{k: v for k, v in os.environ.items()
                                               if k.lower() not in StreamerSettings.model_fields},
                                            "HEALTH_PORT": "0", **env})


@pytest.mark.slow
@pytest.mark.parametrize("env, sentence", [
    ({**REPLAY, "BATCH_SIZE": "lots"}, "BATCH_SIZE='lots': Input should be a valid integer"),
    ({**REPLAY, "SINK": "redis"}, "SINK='redis': Input should be 'sqlite' or 'dynamodb'"),
    ({"SOURCE": "x", "X_BEARER_TOKEN": "AAAA-secret", "STREAM_RULES": " "}, "STREAM_RULES"),
])
def test_the_real_process_exits_1_with_one_sentence(env, sentence):
    result = run_streamer(env)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and sentence in lines[0] and "Traceback" not in result.stderr, result.stderr
    assert "AAAA-secret" not in result.stderr + result.stdout


@pytest.mark.parametrize("env, sentence", [
    ({}, "AWS_REGION is not set"),  # botocore raised NoRegionError with a traceback before
    ({"AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9", "AWS_ACCESS_KEY_ID": "local",
      "AWS_SECRET_ACCESS_KEY": "local"}, "DynamoDB does not answer at http://127.0.0.1:9"),
])
def test_create_table_says_what_is_missing_in_one_sentence(env, sentence):
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    result = subprocess.run([sys.executable, "-m", "streamer", "create-table"], env={**clean, **env},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and sentence in result.stderr, result.stderr
    assert "Traceback" not in result.stderr

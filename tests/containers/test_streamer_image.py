"""The streamer image streaming a replay through the serving container into DynamoDB Local, run as
the Deployment runs it (command, ConfigMap settings, security settings, emptyDir, limits from the
rendered prod manifests); SIGTERM mid-stream drains: every received tweet stored once."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from tests.containers.conftest import docker, image_user, serving_container
from tests.containers.pods import environment, grace_seconds, run_flags, streamer_spec
from tests.helpers import free_port
from tests.streamer.conftest import tweets_in
from twitter_sentiment import dynamodb_local

pytestmark = pytest.mark.slow

TWEETS = 2000


def metric(port: int, name: str) -> float:
    try:
        rows = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text.splitlines()
    except httpx.HTTPError:
        return 0.0
    return next((float(row.split()[1]) for row in rows if row.startswith(name + " ")), 0.0)


@pytest.fixture(scope="module")
def dynamodb():
    jar = dynamodb_local.find_jar()
    if jar is None:
        pytest.skip(f"DynamoDB Local is not installed: `{dynamodb_local.INSTALL_COMMAND}`")
    with dynamodb_local.dynamodb_local(jar) as endpoint:
        yield endpoint


def test_streams_a_replay_through_the_serving_container_and_drains_on_sigterm(
        images, pipeline_run, dynamodb, tmp_path):
    from streamer.replay import write_replay
    from streamer.sinks import DynamoDBSink, create_table
    from twitter_sentiment.store import ModelStore

    _, store_dir = pipeline_run
    bundle = store_dir / ModelStore(str(store_dir)).latest()
    replay = tmp_path / "replay.jsonl"
    write_replay(str(replay), TWEETS)
    replay.chmod(0o644)
    table = f"results-{uuid.uuid4().hex[:8]}"
    create_table(dynamodb_local.client(dynamodb), table)
    pod, container, settings = streamer_spec()
    health = free_port()
    name = f"ts-streamer-{uuid.uuid4().hex[:8]}"
    with serving_container(images["serving"], bundle) as (serving_url, _, _):
        env = {**settings, **{e["name"]: e["value"] for e in container.get("env", []) if "value" in e},
               "SOURCE": "replay", "REPLAY_FILE": "/replay/replay.jsonl", "REPLAY_RATE": "500",
               "MODEL_SERVER_URL": serving_url, "DYNAMODB_TABLE": table, "HEALTH_PORT": str(health),
               "SHUTDOWN_GRACE_SECONDS": str(grace_seconds(pod) - 5), **dynamodb_local.env(dynamodb)}
        env.pop("JAVA_HOME", None)
        command = container["command"] + container.get("args", [])
        docker("run", "--detach", "--name", name, "--network", "host",
               *run_flags(pod, container, image_user(images["streamer"])), *environment({}, env),
               "--volume", f"{replay}:/replay/replay.jsonl:ro", "--entrypoint", command[0], images["streamer"],
               *command[1:])
        try:
            deadline = time.monotonic() + 60
            while metric(health, "streamer_tweets_stored_total") < 200:
                running = json.loads(docker("inspect", name).stdout)[0]["State"]["Running"]
                assert running and time.monotonic() < deadline, docker("logs", name, check=False).stderr[-3000:]
                time.sleep(0.1)
            docker("stop", "--time", str(grace_seconds(pod)), name)  # SIGTERM, SIGKILL after the grace period
            state = json.loads(docker("inspect", name).stdout)[0]["State"]
            logs = docker("logs", name)
        finally:
            docker("rm", "--force", name, check=False)
    assert state["ExitCode"] == 0 and not state["OOMKilled"], (state, logs.stderr[-3000:])
    summary = [json.loads(r) for r in logs.stdout.splitlines() if r.startswith('{"event": "stopped"')][-1]
    received = summary["received"]
    assert 200 <= received < TWEETS, "SIGTERM came mid-stream"
    assert summary["stored"] == received and summary["unstored"] == 0, summary
    items = DynamoDBSink(table, dynamodb_local.client(dynamodb)).items()
    # The replay is read in order: what was received is exactly its first `received` tweets, each stored once.
    ids = [message["data"]["id"] for message in tweets_in(replay)[:received]]
    assert sorted(item["id"] for item in items) == sorted(ids)
    assert all(item["sentiment"] in ("POSITIVE", "NEUTRAL", "NEGATIVE") for item in items)

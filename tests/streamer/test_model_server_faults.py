"""A tweet the model server always fails on, an outage, a wrong MODEL_NAME, a stall: none stops or hides the stream.

The failing tweet needs a server with that defect; the real one has none, so a small HTTP proxy in front of
the real model server answers 500 for any batch holding a marker text (or for every request, during an
"outage"), and passes everything else through unchanged.
"""

from __future__ import annotations

import contextlib
import json

import httpx
import pytest

from streamer.health import HealthServer
from streamer.replay import line, messages
from tests.helpers import free_port
from tests.streamer.conftest import Run
from tests.streamer.test_faults import start_streamer, wait_until
from tests.stub_http import StubHandler, serving

pytestmark = pytest.mark.slow
POISON = "zzpoisonzz"


@contextlib.contextmanager
def failing_proxy(upstream: str):
    """Yields (url, state); state["outage"] = True makes every request a 500."""
    state = {"outage": False, "poisoned": 0}
    client = httpx.Client(timeout=30)

    class Handler(StubHandler):
        def _forward(self, method: str):
            body = self.body()
            if state["outage"] or POISON.encode() in body:
                state["poisoned"] += not state["outage"]
                return self.reply(500, {"error": "internal error"})
            response = client.request(method, upstream + self.path, content=body,
                                      headers={"Content-Type": "application/json"})
            self.reply(response.status_code, response.content)

        def do_POST(self):
            self._forward("POST")

        def do_GET(self):
            self._forward("GET")

    with client, serving(Handler) as url:
        yield url, state


def replay_with(tmp_path, count: int, poisoned: tuple[int, ...] = ()):
    tweets = [m for m in messages(count, seed=13) if m and "data" in m]
    for n in poisoned:
        tweets[n]["data"]["text"] += f" {POISON}"
    path = tmp_path / "replay.jsonl"
    path.write_bytes(b"".join(line(m) for m in tweets))
    return path, tweets


def test_a_tweet_the_server_always_fails_on_is_isolated_and_rejected(tmp_path, model_server_url, sqlite_sink):
    replay, tweets = replay_with(tmp_path, 60, poisoned=(17, 41))
    with failing_proxy(model_server_url) as (url, state):
        run = Run(replay, url, sqlite_sink, batch_size=64, max_backoff=0.05)
        summary = run(timeout=120)
    assert summary.complete and summary.received == 60 and summary.scored == 58 and summary.rejected == 2
    by_id = {item["id"]: item for item in sqlite_sink.items()}
    for n in (17, 41):
        item = by_id[tweets[n]["data"]["id"]]
        assert item["sentiment"] == "REJECTED" and item["reason"].startswith("model_server_failed: HTTP 500")
    assert sum(item["sentiment"] in ("POSITIVE", "NEUTRAL", "NEGATIVE") for item in by_id.values()) == 58
    assert run.metrics.value("streamer_tweets_rejected_total", reason="model_server_failed") == 2


def test_an_outage_rejects_nothing(tmp_path, model_server_url, sqlite_sink):
    # Every request fails, the canary too: the tweets are not to blame, they wait until the server is back.
    replay, _ = replay_with(tmp_path, 40)
    with failing_proxy(model_server_url) as (url, state):
        state["outage"] = True
        run = Run(replay, url, sqlite_sink, batch_size=8, max_backoff=0.05).start()
        wait_until(lambda: run.metrics.value("streamer_retries_total", target="model_server") >= 40, 60, "retries")
        assert run.metrics.value("streamer_tweets_stored_total") == 0
        state["outage"] = False
        summary = run.wait(120)
    assert summary.complete and summary.scored == 40 and summary.rejected == 0


def test_a_wrong_model_name_stops_at_start_with_a_sentence(tmp_path, model_server_url, replay_300):
    process, _ = start_streamer({"REPLAY_FILE": str(replay_300), "MODEL_SERVER_URL": model_server_url,
                                 "MODEL_NAME": "twitter-sentimnet", "SQLITE_PATH": str(tmp_path / "r.sqlite")},
                                tmp_path / "streamer.log")
    out, _ = process.communicate(timeout=60)
    assert process.returncode == 1
    err = (tmp_path / "streamer.log").read_text()
    sentence = [row for row in err.splitlines() if "MODEL_NAME='twitter-sentimnet'" in row]
    assert len(sentence) == 1 and "HTTP 404" in sentence[0] and "Traceback" not in err, err[-2000:]


def test_liveness_fails_when_tweets_wait_and_nothing_is_stored(tmp_path, replay_300, sqlite_sink):
    run = Run(replay_300, f"http://127.0.0.1:{free_port()}", sqlite_sink, queue_size=20, batch_size=8,
              max_backoff=0.05, grace_seconds=3)
    run.pipeline.stall_seconds = 1.0
    health = HealthServer(0, {}, run.metrics, host="127.0.0.1", alive=run.pipeline.alive).start()
    livez = lambda: httpx.get(f"http://127.0.0.1:{health.port}/livez", timeout=5)
    try:
        assert livez().status_code == 200  # nothing waiting yet
        run.start()
        wait_until(lambda: livez().status_code == 503, 60, "/livez to report the stall")
        report = livez().json()
        assert report["status"] == "stalled" and "nothing stored" in report["detail"]
        assert run.metrics.value("streamer_tweets_stored_total") == 0
    finally:
        run.pipeline.request_stop()
        summary = run.wait(60)
        health.stop()
    assert summary.complete  # what waited is kept, as UNSCORED


def test_a_wrong_model_name_found_once_the_server_is_up_stops_the_stream(tmp_path, tiny_bundle, replay_300):
    from tests.streamer.conftest import serving_on

    port = free_port()
    process, _ = start_streamer({"REPLAY_FILE": str(replay_300), "MODEL_SERVER_URL": f"http://127.0.0.1:{port}",
                                 "MODEL_NAME": "twitter-sentimnet", "SQLITE_PATH": str(tmp_path / "r.sqlite"),
                                 "QUEUE_SIZE": "50"}, tmp_path / "streamer.log")
    try:
        wait_until(lambda: "not reachable at start" in (tmp_path / "streamer.log").read_text(), 60, "the start")
        with serving_on(tiny_bundle, port, tmp_path / "server.log"):
            out, _ = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1
    summary = json.loads(out.decode().strip().splitlines()[-1])
    assert "MODEL_NAME='twitter-sentimnet'" in summary["error"]
    assert summary["unstored"] == 0 and summary["stored"] == summary["received"] > 0  # kept as UNSCORED

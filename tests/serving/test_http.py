"""Every route and every bad input over HTTP, in-process (Starlette's TestClient on KServe's app) and
against a real `python -m serving` process on a free loopback port (one per module)."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.serving.conftest import MODEL, READY, TWEETS, V1, V1_MODEL, V2, tensor
from twitter_sentiment.bundle import SentimentModel

pytestmark = [  # KServe 0.21 and Starlette's TestClient, not our code, trip these
    pytest.mark.filterwarnings("ignore:ORJSONResponse is deprecated"),
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated"),
]

MARKER = "zebra-marker-7731"  # a tweet text that must never reach the server's log


@pytest.fixture(scope="module")
def expected(tiny_bundle):
    """What the bundle itself says about each of TWEETS."""
    model = SentimentModel.load(tiny_bundle)
    return {t: p for t, p in zip(TWEETS, model.predict(TWEETS))}


# --- the routes ---------------------------------------------------------------------------------------

def test_v1_predicts_each_instance_in_order(client, expected):
    instances = [t if i % 2 else {"text": t} for i, t in enumerate(TWEETS)]
    response = client.post(V1, json={"instances": instances})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "test-tiny"
    assert [p["label"] for p in body["predictions"]] == [expected[t].label for t in TWEETS]
    scores = [p["score"] for p in body["predictions"]]
    assert scores == pytest.approx([expected[t].score for t in TWEETS], abs=1e-5)


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "text/plain", None])
def test_v1_reads_json_whatever_the_content_type(client, content_type):
    headers = {"content-type": content_type} if content_type else {}
    response = client.post(V1, content=json.dumps({"instances": ["hello"]}).encode(), headers=headers)
    assert response.status_code == 200, response.text
    assert len(response.json()["predictions"]) == 1


def test_v2_infer_with_a_bytes_input(client, expected):
    request = {"id": "r1", **tensor(TWEETS[:3])}
    response = client.post(V2, json=request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == "r1" and body["model_name"] == MODEL and body["model_version"] == "test-tiny"
    outputs = {o["name"]: o for o in body["outputs"]}
    assert outputs["label"]["datatype"] == "BYTES" and outputs["label"]["shape"] == [3]
    assert outputs["label"]["data"] == [expected[t].label for t in TWEETS[:3]]
    assert outputs["score"]["data"] == pytest.approx([expected[t].score for t in TWEETS[:3]], abs=1e-5)


def test_the_original_predict_route(client, expected):
    response = client.post("/predict", json={"text": TWEETS[0]})
    assert response.status_code == 200, response.text
    assert response.json() == {"label": expected[TWEETS[0]].label,
                               "score": pytest.approx(expected[TWEETS[0]].score, abs=1e-5)}


@pytest.mark.parametrize("path", ["/v2/health/live", "/v2/health/ready", f"/v2/models/{MODEL}/ready",
                                  f"/v1/models/{MODEL}", "/v2/models/" + MODEL])
def test_health_and_metadata(client, path):
    assert client.get(path).status_code == 200


def test_v2_metadata_describes_the_tensors(client):
    body = client.get(f"/v2/models/{MODEL}").json()
    assert body["inputs"] == [{"name": "text", "datatype": "BYTES", "shape": [-1]}]
    assert [(o["name"], o["datatype"]) for o in body["outputs"]] == [("label", "BYTES"), ("score", "FP32")]


def scored(metrics: str) -> float:
    """Tweets scored so far by the bundle under test, summed over labels, from /metrics."""
    prefix = 'twitter_sentiment_tweets_scored_total{'
    return sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith(prefix) and 'model_version="test-tiny"' in line)


def test_prometheus_metrics_carry_the_bundle_version(client):
    """Issue 16: the served version is a label on the server's metrics (a rollout shows on a dashboard)."""
    before = scored(client.get("/metrics").text)
    assert client.post(V1, json={"instances": ["hello", "good day"]}).status_code == 200
    assert client.post("/predict", json={"text": "hello"}).status_code == 200
    response = client.get("/metrics")
    assert response.status_code == 200
    assert f'request_predict_seconds_count{{model_name="{MODEL}"}}' in response.text  # KServe's own
    assert f'twitter_sentiment_model_info{{model_name="{MODEL}",model_version="test-tiny"}} 1.0' in response.text
    assert scored(response.text) == before + 3


def test_the_v1_model_route_reports_the_version_it_serves(client):
    """Issue 16: GET /v1/models/<name> says which bundle version answers."""
    response = client.get(V1_MODEL)
    assert response.status_code == 200
    assert response.json() == {"name": MODEL, "ready": True, "model_version": "test-tiny"}
    assert client.get("/v1/models/other").status_code == 404


def test_readiness_routes_answer_ready_while_the_model_can_score(client):
    for path in ("/v2/health/ready", READY):
        assert client.get(path).status_code == 200
    assert client.get("/v2").json()["extensions"] == []  # no model repository extension offered


# --- under load, and what the log says -------------------------------------------------------------------

def check_consistent(answers: list[tuple[str, httpx.Response]], expected) -> None:
    for text, response in answers:
        assert response.status_code == 200, response.text
        [prediction] = response.json()["predictions"]
        assert prediction["label"] == expected[text].label
        assert prediction["score"] == pytest.approx(expected[text].score, abs=1e-5)


def test_200_concurrent_requests_in_process(in_process_client, expected):
    texts = [TWEETS[i % len(TWEETS)] for i in range(200)]

    def post(text):
        return text, in_process_client.post(V1, json={"instances": [text]})

    with ThreadPoolExecutor(32) as pool:
        check_consistent(list(pool.map(post, texts)), expected)


@pytest.mark.slow
def test_200_concurrent_requests_to_the_process(server, expected):
    texts = [TWEETS[i % len(TWEETS)] for i in range(200)]

    async def run():
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=server[0], timeout=60, limits=limits) as client:
            async def post(text):
                return text, await client.post(V1, json={"instances": [text]})
            return await asyncio.gather(*(post(t) for t in texts))

    check_consistent(asyncio.run(run()), expected)


@pytest.mark.slow
def test_the_log_has_one_line_per_event_and_no_tweet_text(server, process_client):
    for payload in ({"instances": [MARKER]}, {"instances": [MARKER, 3]}, {"instances": ["x" * 281 + MARKER]},
                    {"instances": [MARKER, "  "]}):
        process_client.post(V1, json=payload)
    process_client.post("/predict", json={"text": MARKER})
    process_client.post(V1, content=b'{"instances": ["' + MARKER.encode())  # not valid JSON
    assert process_client.get("/v2/health/ready").status_code == 200  # still up after everything above
    log = server[1].read_text()
    assert MARKER not in log
    assert "Traceback" not in log
    assert "refused POST /v1/models/twitter-sentiment:predict: 400 instance 1: expected a string" in log

"""Every route and every bad input over HTTP, in-process (Starlette's TestClient on KServe's app) and
against a real `python -m serving` process on a free loopback port (one per module)."""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.helpers import model_server
from tests.serving.conftest import LIMITS_ENV, MODEL, TWEETS, V1, V2
from twitter_sentiment.bundle import SentimentModel

pytestmark = [  # KServe 0.21 and Starlette's TestClient, not our code, trip these
    pytest.mark.filterwarnings("ignore:ORJSONResponse is deprecated"),
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated"),
]

MARKER = "zebra-marker-7731"  # a tweet text that must never reach the server's log


@pytest.fixture(scope="module")
def server(tiny_bundle, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    with model_server(tiny_bundle, env=LIMITS_ENV, log_path=log_path) as url:
        yield url, log_path


@pytest.fixture(scope="module")
def process_client(server):
    with httpx.Client(base_url=server[0], timeout=30) as client:
        yield client


@pytest.fixture(params=["in-process", "process"])
def client(request):
    return request.getfixturevalue(f"{request.param.replace('-', '_')}_client")


@pytest.fixture(scope="module")
def expected(tiny_bundle):
    """What the bundle itself says about each of TWEETS."""
    model = SentimentModel.load(tiny_bundle)
    return {t: p for t, p in zip(TWEETS, model.predict(TWEETS))}


def error_of(response) -> str:
    body = response.json()
    return body["error"] if "error" in body else json.dumps(body.get("detail"))


def instances(n: int, length: int = 1) -> dict:
    return {"instances": ["x" * length] * n}


def tensor(data, datatype="BYTES", shape=None) -> dict:
    return {"inputs": [{"name": "text", "shape": shape or [len(data)], "datatype": datatype, "data": data}]}


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


def test_prometheus_metrics(client):
    client.post(V1, json={"instances": ["hello"]})
    response = client.get("/metrics")
    assert response.status_code == 200
    assert f'request_predict_seconds_count{{model_name="{MODEL}"}}' in response.text


# --- bad input: a 4xx naming the problem, never a 500 ---------------------------------------------------

NOT_TEXT = 'expected a string or an object with a string "text"'
BAD = [
    # route, body (bytes or JSON), status, message
    (V1, b"{not json", 400, "request body is not valid JSON"),
    (V1, b"", 400, "request body is not valid JSON"),
    (V1, [1, 2], 400, 'request body must be a JSON object {"instances": [...]}, got list'),
    (V1, {"inputs": ["hi"]}, 400, '"instances" is missing'),
    (V1, {"instances": "hi"}, 400, '"instances" must be a list, got string'),
    (V1, {"instances": {"text": "hi"}}, 400, '"instances" must be a list, got object'),
    (V1, {"instances": []}, 400, '"instances" is empty'),
    (V1, {"instances": ["ok", 3]}, 400, f"instance 1: {NOT_TEXT}, got int"),
    (V1, {"instances": ["ok", None]}, 400, f"instance 1: {NOT_TEXT}, got null"),
    (V1, {"instances": ["ok", ["nested"]]}, 400, "instance 1: expected a string"),
    (V1, {"instances": ["ok", {"txt": "hi"}]}, 400, 'instance 1: an object needs a "text" field'),
    (V1, {"instances": [{"text": 5}]}, 400, 'instance 0: "text" must be a string, got int'),
    (V1, instances(9), 413, '"instances" has 9 tweets; the limit is 8 (MAX_INSTANCES)'),
    (V1, {"instances": ["ok", "x" * 281]}, 413,
     "instance 1: text is 281 characters; the limit is 280 (MAX_TEXT_LENGTH)"),
    (V1, instances(30, 200), 413, "bytes; the limit is 4096 bytes (MAX_BODY_BYTES)"),
    ("/v1/models/other:predict", instances(1), 404, "Model with name other does not exist"),
    ("/predict", b"nope", 400, "request body is not valid JSON"),
    ("/predict", {"txt": "hi"}, 400, 'request body must be a JSON object {"text": "tweet text"}'),
    ("/predict", {"text": 1}, 400, '"text" must be a string, got int'),
    ("/predict", {"text": "x" * 281}, 413, '"text": text is 281 characters; the limit is 280'),
    (V2, b"{", 422, "json_invalid"),
    (V2, {"inputs": 3}, 422, "Input should be a valid list"),
    (V2, {"inputs": []}, 400, "expected one input of tweet texts (datatype BYTES), got 0"),
    (V2, {"inputs": tensor(["a"])["inputs"] * 2}, 400,
     "expected one input of tweet texts (datatype BYTES), got 2"),
    (V2, tensor([1.0], "FP32"), 400, 'input "text" has datatype FP32; send tweets as BYTES'),
    (V2, tensor(["a", 1]), 400, "element 1: expected a string, got int"),
    (V2, tensor(["a", "b"], shape=[3]), 400, 'shape [3] needs 3 elements, "data" has 2'),
    (V2, tensor([]), 400, 'input "text" is empty'),
    (V2, tensor(["x"] * 9), 413, 'input "text" has 9 tweets; the limit is 8 (MAX_INSTANCES)'),
    (V2, tensor(["x" * 281]), 413, "element 0: text is 281 characters"),
]


@pytest.mark.parametrize("route, payload, status, message", BAD,
                         ids=[f"{i}-{route.rsplit('/', 1)[-1]}-{status}"
                              for i, (route, _, status, _) in enumerate(BAD)])
def test_bad_input_gets_a_4xx_naming_the_problem(client, route, payload, status, message):
    content = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response = client.post(route, content=content, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert message in error_of(response)


def test_a_chunked_body_over_the_limit_gets_a_413(process_client):
    def chunks():
        yield b'{"instances": ["'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"]}'

    response = process_client.post(V1, content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "the limit is 4096 bytes (MAX_BODY_BYTES)" in error_of(response)


def test_a_chunked_body_under_the_limit_is_served(process_client):
    response = process_client.post(V1, content=iter([b'{"instances": ', b'["hello"]}']),
                                   headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text


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


def test_200_concurrent_requests_to_the_process(server, expected):
    texts = [TWEETS[i % len(TWEETS)] for i in range(200)]

    async def run():
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=server[0], timeout=60, limits=limits) as client:
            async def post(text):
                return text, await client.post(V1, json={"instances": [text]})
            return await asyncio.gather(*(post(t) for t in texts))

    check_consistent(asyncio.run(run()), expected)


def test_the_log_has_one_line_per_event_and_no_tweet_text(server, process_client):
    for payload in ({"instances": [MARKER]}, {"instances": [MARKER, 3]}, {"instances": ["x" * 281 + MARKER]}):
        process_client.post(V1, json=payload)
    process_client.post("/predict", json={"text": MARKER})
    process_client.post(V1, content=b'{"instances": ["' + MARKER.encode())  # not valid JSON
    assert process_client.get("/v2/health/ready").status_code == 200  # still up after everything above
    log = server[1].read_text()
    assert MARKER not in log
    assert "Traceback" not in log
    assert "refused POST /v1/models/twitter-sentiment:predict: 400 instance 1: expected a string" in log

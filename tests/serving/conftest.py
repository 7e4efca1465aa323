"""Serving fixtures: the tiny bundle loaded once, small limits, and KServe's app in-process (once per
process: KServe's FastAPI app is a module global)."""

from __future__ import annotations

import json

import httpx
import pytest

from serving.settings import ServingSettings
from tests import helpers
from twitter_sentiment.contract import MODEL_NAME as MODEL
from twitter_sentiment.contract import model_path, predict_path, ready_path
from twitter_sentiment.settings import load

LIMITS_ENV = {"MAX_INSTANCES": "8", "MAX_TEXT_LENGTH": "280"}  # MAX_BODY_BYTES follows: 92,672
LIMITS = load(ServingSettings, LIMITS_ENV)
V1 = predict_path(MODEL)
V2 = f"/v2/models/{MODEL}/infer"
V1_MODEL = model_path(MODEL)
READY = ready_path(MODEL)
TWEETS = [
    "I love this phone, best purchase ever! 😍",
    "worst customer service i have ever had @airline #fail",
    "just landed in boston",
    "can't believe how good this movie was http://t.co/xyz",
    "ugh, my flight is delayed again...",
    "&quot;meh&quot; is all I can say",
    "sooooo happy today!!!",
]


@pytest.fixture(scope="session")
def predictor(tiny_bundle):
    """The KServe model over the tiny bundle, loaded."""
    from serving.model import SentimentPredictor

    model = SentimentPredictor(load(ServingSettings, LIMITS_ENV, storage_uri=str(tiny_bundle)))
    model.load()
    return model


@pytest.fixture(scope="session")
def in_process_client(predictor):
    """Starlette's TestClient on KServe's app with our additions (PLATFORM.md's recipe)."""
    from kserve import model_server
    from kserve.constants.constants import FASTAPI_APP_IMPORT_STRING
    from kserve.protocol.rest.server import RESTServer
    from starlette.testclient import TestClient

    from serving.app import build_server

    server = build_server(predictor)
    server.register_model(predictor)
    rest = RESTServer(FASTAPI_APP_IMPORT_STRING, server.dataplane, server.model_repository_extension, 0)
    rest.create_application()
    with TestClient(model_server.app) as client:
        yield client


@pytest.fixture(scope="session")
def server(tiny_bundle, tmp_path_factory):
    """A real `python -m serving` process on a free loopback port, with its log file."""
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    with helpers.model_server(tiny_bundle, env=LIMITS_ENV, log_path=log_path) as url:
        yield url, log_path


@pytest.fixture(scope="session")
def process_client(server):
    with httpx.Client(base_url=server[0], timeout=30) as client:
        yield client


@pytest.fixture(params=[pytest.param(where, marks=pytest.mark.slow) for where in ("in-process", "process")])
def client(request):
    """Each test twice: on KServe's app in-process, and over HTTP to the real server process."""
    return request.getfixturevalue(f"{request.param.replace('-', '_')}_client")


def error_of(response) -> str:
    body = response.json()
    return body["error"] if "error" in body else json.dumps(body.get("detail"))


def instances(n: int, length: int = 1) -> dict:
    return {"instances": ["x" * length] * n}


def tensor(data, datatype="BYTES", shape=None) -> dict:
    return {"inputs": [{"name": "text", "shape": shape or [len(data)], "datatype": datatype, "data": data}]}

"""Serving fixtures: the tiny bundle loaded once, small limits, and KServe's app in-process (once per
process: KServe's FastAPI app is a module global)."""

from __future__ import annotations

import pytest

from serving.requests import Limits

LIMITS = Limits(max_instances=8, max_text_length=280, max_body_bytes=4096)
LIMITS_ENV = {"MAX_INSTANCES": "8", "MAX_TEXT_LENGTH": "280", "MAX_BODY_BYTES": "4096"}
MODEL = "twitter-sentiment"
V1 = f"/v1/models/{MODEL}:predict"
V2 = f"/v2/models/{MODEL}/infer"
TWEETS = [
    "I love this phone, best purchase ever! 😍",
    "worst customer service i have ever had @airline #fail",
    "just landed in boston",
    "can't believe how good this movie was http://t.co/xyz",
    "ugh, my flight is delayed again...",
    "&quot;meh&quot; is all I can say",
    "",
    "sooooo happy today!!!",
]


@pytest.fixture(scope="session")
def predictor(tiny_bundle):
    """The KServe model over the tiny bundle, loaded."""
    from serving.model import SentimentPredictor

    model = SentimentPredictor(MODEL, str(tiny_bundle), LIMITS)
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

    server = build_server(predictor, http_port=0)
    server.register_model(predictor)
    rest = RESTServer(FASTAPI_APP_IMPORT_STRING, server.dataplane, server.model_repository_extension, 0)
    rest.create_application()
    with TestClient(model_server.app) as client:
        yield client

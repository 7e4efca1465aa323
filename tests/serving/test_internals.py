"""Pins on the KServe (0.21) and uvicorn (0.54) internals serving/app.py relies on (issue 10.6).

Where KServe offers public API, serving uses it (Model.healthy/explain, InferRequest and InferInput
constructors, the ModelServer's constructor and start()). What remains is listed here; each test fails
with a message naming the internal, so a KServe or uvicorn upgrade that moves one fails loudly here
instead of quietly re-opening a hole (a 500, a held connection, an unload from outside).
"""

from __future__ import annotations

import asyncio
import inspect
import logging

import pytest
from fastapi import FastAPI
from kserve.model_repository import ModelRepository
from kserve.protocol.dataplane import DataPlane
from timing_asgi import TimingMiddleware
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from serving.app import (
    FixedModel,
    SentimentDataPlane,
    SentimentServer,
    drop_timing_middleware,
    head_deadline_protocol,
)
from serving.model import SentimentPredictor
from serving.settings import ServingSettings
from tests.serving.conftest import LIMITS_ENV, MODEL
from twitter_sentiment.settings import load

pytestmark = [  # KServe 0.21 and Starlette's TestClient, not our code, trip these
    pytest.mark.filterwarnings("ignore:ORJSONResponse is deprecated"),
    pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient` is deprecated"),
]


def test_dataplane_methods_we_override_keep_their_signatures():
    """SentimentDataPlane overrides DataPlane.decode, .ready and .metadata and reads .model_registry."""
    assert list(inspect.signature(DataPlane.decode).parameters) == \
        ["self", "body", "headers", "protocol_version", "model_name"], "DataPlane.decode changed"
    assert inspect.iscoroutinefunction(DataPlane.ready), "DataPlane.ready is no longer async"
    assert isinstance(DataPlane.model_registry, property), "DataPlane.model_registry is gone"
    assert "extensions" in DataPlane(ModelRepository()).metadata(), "DataPlane.metadata changed shape"


def test_model_server_hands_its_dataplane_and_repository_extension_to_the_rest_server(monkeypatch, predictor):
    """SentimentServer replaces ModelServer.dataplane and .model_repository_extension after __init__ and
    sets uvicorn's host and protocol in setup_event_loop(), which start() calls after building
    `_rest_server` and before serving. Run start() up to the point where it would serve."""
    settings = load(ServingSettings, {**LIMITS_ENV, "HTTP_HOST": "127.0.0.1", "REQUEST_READ_SECONDS": "7"})
    server = SentimentServer(settings, http_port=settings.http_port)
    monkeypatch.setattr(server, "register_signal_handler", lambda: None)  # pytest keeps its own
    served = []
    monkeypatch.setattr("kserve.model_server.asyncio.run", lambda coroutine: served.append(coroutine))
    dropped = []  # the app's middleware when setup_event_loop drops KServe's timing

    def drop(app):
        dropped.append([entry.cls for entry in app.user_middleware])
        drop_timing_middleware(app)

    monkeypatch.setattr("serving.app.drop_timing_middleware", drop)
    loop = asyncio.new_event_loop()  # setup_event_loop sets the current loop's default executor
    asyncio.set_event_loop(loop)
    try:
        server.start([predictor])
    finally:
        for coroutine in served + server.servers:
            coroutine.close()
        asyncio.set_event_loop(None)
        loop.close()
    rest = server._rest_server
    app = FastAPI()  # a fresh one: KServe's global app stays as the other tests use it
    monkeypatch.setattr("kserve.protocol.rest.server.import_from_string", lambda _: app)
    monkeypatch.setattr("serving.app.model_server_app", lambda: app)
    rest.create_application()  # what the served coroutine does first
    assert served, "ModelServer.start no longer ends in asyncio.run: setup_event_loop may run too late"
    assert rest.dataplane is server.dataplane, "RESTServer no longer gets ModelServer.dataplane"
    assert rest.model_repository_extension is server.model_repository_extension, \
        "RESTServer no longer gets ModelServer.model_repository_extension: load/unload may be open again"
    assert isinstance(server.model_repository_extension, FixedModel)
    assert rest.config.host == "127.0.0.1", "uvicorn's Config on _rest_server.config was not ours to set"
    assert issubclass(rest.config.http, HttpToolsProtocol) and not rest.config.loaded, \
        "uvicorn's Config was loaded before setup_event_loop: the head deadline would not apply"
    assert TimingMiddleware in dropped[0], "KServe no longer adds TimingMiddleware: drop_timing_middleware can go"
    assert TimingMiddleware not in [entry.cls for entry in app.user_middleware], \
        "KServe's TimingMiddleware (getrusage twice a request) is still in the app"


def test_the_uvicorn_protocol_hooks_we_extend_exist():
    """head_deadline_protocol overrides these HttpToolsProtocol methods and uses .loop and .transport."""
    for name in ("connection_made", "on_message_begin", "on_headers_complete", "connection_lost"):
        assert callable(getattr(HttpToolsProtocol, name, None)), f"uvicorn HttpToolsProtocol.{name} is gone"
    source = inspect.getsource(HttpToolsProtocol.__init__)
    assert "self.loop" in source and "self.transport" in source
    protocol = head_deadline_protocol(1.0)
    assert {"connection_made", "on_message_begin", "on_headers_complete", "connection_lost"} <= set(vars(protocol))


def test_readiness_asks_the_model(tiny_bundle):
    """/v2/health/ready and the model's ready route go through Model.healthy (public) via
    SentimentDataPlane.ready and ModelRepository.is_model_ready."""
    model = SentimentPredictor(load(ServingSettings, LIMITS_ENV, storage_uri=str(tiny_bundle)))
    registry = ModelRepository()
    dataplane = SentimentDataPlane(model_registry=registry)

    async def states():
        return await dataplane.ready(), await dataplane.model_ready(MODEL)

    assert asyncio.run(dataplane.ready()) is False  # nothing registered: not ready (KServe says True)
    registry.update(model)
    assert asyncio.run(states()) == (False, False)  # registered, not loaded
    model.load()
    assert asyncio.run(states()) == (True, True)
    model.predictor.close()  # its model thread gone: it cannot score now
    assert asyncio.run(states()) == (False, False)


def test_kserve_logs_a_refused_request_at_error_and_we_make_it_one_info_line(in_process_client, caplog):
    """OneLineClientErrors rewrites KServe's ERROR-with-traceback records (logger "kserve") for 4xx."""
    with caplog.at_level(logging.INFO, logger="kserve"):
        assert in_process_client.get("/v2/models/other/ready").status_code == 404
    records = [r for r in caplog.records if r.name == "kserve" and "other" in r.getMessage()]
    assert [(r.levelno, r.exc_info) for r in records] == [(logging.INFO, None)], \
        "KServe no longer logs refused requests on logger 'kserve' with exc_info"
    assert records[0].getMessage() == "refused request: ModelNotFound: Model with name other does not exist."


def test_our_routes_come_before_kserves(in_process_client):
    """install() adds routes to kserve.model_server.app before start() adds KServe's own: ours match first."""
    assert "model_version" in in_process_client.get(f"/v1/models/{MODEL}").json()

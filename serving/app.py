"""Fit the predictor into KServe's ModelServer: bounded request reading (size and time), the original
`POST /predict`, a 4xx (never a 5xx) for every request we refuse, one log line per refused request,
readiness that means "can score now", and no way to change the served model from outside.

Every KServe or uvicorn internal this module relies on is pinned by tests/serving/test_internals.py.
"""

from __future__ import annotations

import asyncio
import logging

import orjson
from cloudevents.sdk.converters.util import has_binary_headers
from fastapi import FastAPI, Request
from fastapi.responses import Response
from kserve import ModelServer
from kserve.constants.constants import INFERENCE_CONTENT_LENGTH_HEADER, PredictorProtocol
from kserve.errors import InvalidInput, ModelNotFound, ModelNotReady, ServerNotLive, ServerNotReady
from kserve.protocol.dataplane import DataPlane
from kserve.protocol.model_repository_extension import ModelRepositoryExtension
from timing_asgi import TimingMiddleware  # a KServe dependency
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from serving.model import SentimentPredictor
from serving.requests import RequestRejected, binary_request, compat_text, parse_json
from serving.settings import ServingSettings

log = logging.getLogger(__name__)

DRAIN_FACTOR = 4  # an over-limit body up to this many times the limit is read (and dropped) before the 413


class SentimentDataPlane(DataPlane):
    """KServe's data plane with our decoding (a 400 naming the problem for any body that does not
    decode), readiness that asks the models, and no model repository extension advertised."""

    def decode(self, body, headers, protocol_version: str = PredictorProtocol.REST_V1.value, model_name=None):
        if isinstance(body, bytes) and not (headers and has_binary_headers(headers)):
            if protocol_version.lower() == PredictorProtocol.REST_V1.value:
                body = parse_json(body)
            elif protocol_version.lower() == PredictorProtocol.REST_V2.value:  # the binary tensor extension
                return binary_request(body, headers.get(INFERENCE_CONTENT_LENGTH_HEADER), model_name), {}
        return super().decode(body, headers, protocol_version, model_name)

    async def ready(self) -> bool:
        """/v2/health/ready: KServe 0.21's DataPlane.ready answers True whatever the models' state
        (kserve/protocol/dataplane.py); the readiness probe must fail while no model can score."""
        models = list(self.model_registry.get_models().values())
        return bool(models) and all([await model.healthy() for model in models])

    def metadata(self) -> dict:
        return {**super().metadata(), "extensions": []}  # load/unload are refused: see FixedModel


class FixedModel(ModelRepositoryExtension):
    """The model repository extension, refused: nothing outside the pod changes what it serves.

    KServe 0.21 registers `POST /v2/repository/models/{name}/load|unload` unconditionally and without
    authentication (kserve/protocol/rest/v2_endpoints.py, register_v2_endpoints; the gRPC servicer
    has the same two calls) and offers no flag to turn them off (kserve/model_server.py's parser).
    Both servers call the ModelServer's `model_repository_extension` object, so the supported seam
    is that object: this one answers 403. A new bundle is a new rollout.
    """

    async def load(self, model_name: str) -> None:
        raise self._refused("load")

    async def unload(self, model_name: str) -> None:
        raise self._refused("unload")

    @staticmethod
    def _refused(verb: str) -> RequestRejected:
        return RequestRejected(f"{verb} is disabled: this server serves the one bundle it loaded at start "
                               "(STORAGE_URI); roll out a new one instead", 403)


class ClientGone(Exception):
    """The client closed the connection before its request was read."""


class BoundedRequests:
    """ASGI middleware: each request's body is read here, before the app runs, within MAX_BODY_BYTES
    and REQUEST_READ_SECONDS; over the size a 413, too slow a 408, a client gone one log line."""

    def __init__(self, app, max_bytes: int, read_seconds: float):
        self.app = app
        self.max_bytes = max_bytes
        self.read_seconds = read_seconds

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length", b"")
        declared = int(declared) if declared.isdigit() else None
        try:
            if declared is not None and declared > self.max_bytes:
                # Read and drop the body first: closing with it unread makes the kernel reset the
                # connection, and clients that send the whole body first (urllib) see only the reset.
                # A client that asked to continue first has sent nothing, and gets the 413 at once.
                if declared <= DRAIN_FACTOR * self.max_bytes and headers.get(b"expect") != b"100-continue":
                    await asyncio.wait_for(self._read(receive), self.read_seconds)
                return await self._refuse(scope, send, 413, f"request body is {declared} bytes")
            body = await asyncio.wait_for(self._read(receive), self.read_seconds)
        except ClientGone:
            log.info("%s %s: the client closed the connection before sending its whole body",
                     scope["method"], scope["path"])
            return
        except TimeoutError:
            if declared is not None and declared > self.max_bytes:
                return await self._refuse(scope, send, 413, f"request body is {declared} bytes")
            return await self._refuse(scope, send, 408, f"request body not received within "
                                                        f"{self.read_seconds:g} s (REQUEST_READ_SECONDS)")
        if body is None:
            return await self._refuse(scope, send, 413, "request body is larger")
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(self, receive) -> bytes | None:
        """The whole body; None once it passes MAX_BODY_BYTES (read on, and dropped, up to
        DRAIN_FACTOR times the limit, then no further)."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                raise ClientGone
            chunk = message.get("body", b"")
            size += len(chunk)
            if size <= self.max_bytes:
                chunks.append(chunk)
            if not message.get("more_body", False) or size > DRAIN_FACTOR * self.max_bytes:
                return b"".join(chunks) if size <= self.max_bytes else None

    async def _refuse(self, scope, send, status: int, what: str) -> None:
        reason = what if status != 413 else f"{what}; the limit is {self.max_bytes} bytes (MAX_BODY_BYTES)"
        log.info("refused %s %s: %d %s", scope["method"], scope["path"], status, reason)
        body = orjson.dumps({"error": reason})
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def head_deadline_protocol(seconds: float) -> type[HttpToolsProtocol]:
    """uvicorn's HTTP protocol, closing connections that take over `seconds` to send a request's head.

    uvicorn 0.54 times out idle keep-alive connections only after a response (httptools_impl.py,
    on_response_complete): a connection that never completes its first head is held forever.
    """

    class HeadDeadline(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None

        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self._deadline is None:
                self._deadline = self.loop.call_later(seconds, self._too_slow)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _too_slow(self) -> None:
            self._deadline = None
            log.debug("closed a connection that sent no complete request head in %g s", seconds)
            self.transport.close()

    return HeadDeadline


def _json(content, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type="application/json")


async def _rejected(request: Request, error: RequestRejected) -> Response:
    log.info("refused %s %s: %d %s", request.method, request.url.path, error.status, error.reason)
    return _json({"error": error.reason}, error.status)


class OneLineClientErrors(logging.Filter):
    """KServe logs every 4xx it answers at ERROR with a traceback; make those one INFO line.
    Real failures (5xx) keep their traceback."""

    CLIENT_ERRORS = (InvalidInput, ModelNotFound, ModelNotReady, ServerNotLive, ServerNotReady)

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, self.CLIENT_ERRORS):
            record.msg, record.args = "refused request: %s: %s", (type(error).__name__, error)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def install(app: FastAPI, model: SentimentPredictor) -> None:
    """Add our middleware, routes and error handling to KServe's app (before it starts; once).
    Routes added here come before KServe's own, which `start()` adds: ours answer first."""
    app.add_middleware(BoundedRequests, max_bytes=model.settings.max_body_bytes,
                       read_seconds=model.settings.request_read_seconds)
    app.add_exception_handler(RequestRejected, _rejected)  # more specific than KServe's InvalidInput handler

    async def predict_one(request: Request) -> Response:
        """The original API: `{"text": "..."}` -> `{"label": ..., "score": ...}`."""
        if not await model.healthy():
            raise ModelNotReady(model.name)
        text = compat_text(await request.body(), model.settings)
        [prediction] = await model.score([text])
        return _json(prediction.as_dict())

    async def model_status(model_name: str) -> Response:
        """KServe's v1 model route, plus the bundle version served."""
        if model_name != model.name:
            raise ModelNotFound(model_name)
        if not await model.healthy():
            raise ModelNotReady(model_name)
        return _json({"name": model.name, "ready": True, "model_version": model.version})

    async def versioned(model_name: str, rest: str) -> Response:
        """KServe 0.21 answers /versions/... routes with a 501; a client asked for something that is not here."""
        raise RequestRejected(f"models are not addressed by version here: this server serves {model.name} "
                              f"version {model.version}; drop /versions/... from the path", 404)

    app.add_api_route("/predict", predict_one, methods=["POST"], response_model=None)
    app.add_api_route("/v1/models/{model_name}", model_status, methods=["GET"], response_model=None)
    app.add_api_route("/v2/models/{model_name}/versions/{rest:path}", versioned, methods=["GET", "POST"],
                      response_model=None)
    logging.getLogger("kserve").addFilter(OneLineClientErrors())


class SentimentServer(ModelServer):
    """KServe's ModelServer with our data plane, the repository extension refused, and uvicorn bound
    to HTTP_HOST with a deadline on request heads."""

    def __init__(self, settings: ServingSettings, **server_options):
        super().__init__(**{"enable_grpc": False, **server_options})
        self.settings = settings
        self.dataplane = SentimentDataPlane(model_registry=self.registered_models)
        self.model_repository_extension = FixedModel(model_registry=self.registered_models)

    def setup_event_loop(self):
        # start() calls this after building the REST server and before serving: uvicorn's Config is
        # loaded only when serving begins, so these settings still apply (kserve/model_server.py).
        config = self._rest_server.config
        config.host = self.settings.http_host
        config.http = head_deadline_protocol(self.settings.request_read_seconds)
        rest, create = self._rest_server, self._rest_server.create_application

        def create_application():  # RESTServer.start() calls it as serving begins, then adds no middleware
            create()
            drop_timing_middleware(model_server_app())

        rest.create_application = create_application
        super().setup_event_loop()


def model_server_app() -> FastAPI:
    from kserve import model_server

    return model_server.app


def drop_timing_middleware(app: FastAPI) -> None:
    """KServe's REST server adds timing_asgi's TimingMiddleware (kserve/protocol/rest/server.py,
    _add_middlewares): per request, two getrusage calls, whose cost grows with the process's threads,
    and two formatted lines for the kserve.trace logger, which KServe's default level drops. Without it
    the server served 5% more tweets/s at 256 a request (two servers side by side), and it showed
    nothing, so it goes (before the app's first request, when Starlette builds its middleware stack)."""
    app.user_middleware = [entry for entry in app.user_middleware if entry.cls is not TimingMiddleware]


def build_server(model: SentimentPredictor, **server_options) -> SentimentServer:
    """A ModelServer for `model` (REST only unless told otherwise), with our additions installed."""
    server = SentimentServer(model.settings, http_port=model.settings.http_port, **server_options)
    install(model_server_app(), model)
    return server

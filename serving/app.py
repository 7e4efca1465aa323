"""Fit the predictor into KServe's ModelServer: the body-size limit, the original `POST /predict`,
a 4xx (never a 500) for every request we refuse, and one log line per refused request."""

from __future__ import annotations

import logging

import orjson
from cloudevents.sdk.converters.util import has_binary_headers
from fastapi import FastAPI, Request
from fastapi.responses import Response
from kserve import ModelServer
from kserve.constants.constants import PredictorProtocol
from kserve.errors import InvalidInput, ModelNotFound, ModelNotReady, ServerNotLive, ServerNotReady
from kserve.protocol.dataplane import DataPlane

from serving.model import SentimentPredictor
from serving.requests import RequestRejected, compat_text, parse_json

log = logging.getLogger(__name__)


class SentimentDataPlane(DataPlane):
    """KServe's data plane, with a 400 that says "not valid JSON" for a v1 body that is not (KServe's
    own text is "Unrecognized request format"), whatever content type the client declared."""

    def decode(self, body, headers, protocol_version: str = PredictorProtocol.REST_V1.value, model_name=None):
        if (isinstance(body, bytes) and protocol_version.lower() == PredictorProtocol.REST_V1.value
                and not (headers and has_binary_headers(headers))):
            body = parse_json(body)
        return super().decode(body, headers, protocol_version, model_name)


class BodySizeLimit:
    """ASGI middleware: a body over `max_bytes` gets a 413 before anything reads it."""

    def __init__(self, app, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit():  # the HTTP server holds the body to this length
            if int(declared) > self.max_bytes:
                return await self._reject(scope, send, f"request body is {int(declared)} bytes")
            return await self.app(scope, receive, send)
        # No length declared (chunked): read up to the limit, then hand the body on.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                return await self._reject(scope, send, "request body is larger")
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def _reject(self, scope, send, what: str) -> None:
        reason = f"{what}; the limit is {self.max_bytes} bytes (MAX_BODY_BYTES)"
        log.info("refused %s %s: 413 %s", scope.get("method"), scope.get("path"), reason)
        body = orjson.dumps({"error": reason})
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                   (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _json(content, status: int = 200) -> Response:
    return Response(orjson.dumps(content), status_code=status, media_type="application/json")


async def _rejected(request: Request, error: RequestRejected) -> Response:
    log.info("refused %s %s: %d %s", request.method, request.url.path, error.status, error.reason)
    return _json({"error": error.reason}, error.status)


class OneLineClientErrors(logging.Filter):
    """KServe logs every 4xx it answers at ERROR with a traceback; make those one INFO line.
    Real failures (500s) keep their traceback."""

    CLIENT_ERRORS = (InvalidInput, ModelNotFound, ModelNotReady, ServerNotLive, ServerNotReady,
                     NotImplementedError)

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, self.CLIENT_ERRORS):
            record.msg, record.args = "refused request: %s: %s", (type(error).__name__, error)
            record.exc_info, record.exc_text = None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def install(app: FastAPI, model: SentimentPredictor) -> None:
    """Add our middleware, route and error handling to KServe's app (before it starts; once)."""
    app.add_middleware(BodySizeLimit, max_bytes=model.limits.max_body_bytes)
    app.add_exception_handler(RequestRejected, _rejected)  # more specific than KServe's InvalidInput handler

    async def predict_one(request: Request) -> Response:
        """The original API: `{"text": "..."}` -> `{"label": ..., "score": ...}`."""
        if not model.ready:
            raise ModelNotReady(model.name)
        text = compat_text(await request.body(), model.limits)
        [prediction] = await model.predictor.predict([text])
        return _json(prediction.as_dict())

    app.add_api_route("/predict", predict_one, methods=["POST"], response_model=None)
    logging.getLogger("kserve").addFilter(OneLineClientErrors())


def build_server(model: SentimentPredictor, **server_options) -> ModelServer:
    """A ModelServer for `model` (REST only unless told otherwise), with our additions installed."""
    from kserve import model_server

    server = ModelServer(**{"enable_grpc": False, **server_options})
    server.dataplane = SentimentDataPlane(model_registry=server.registered_models)
    install(model_server.app, model)
    return server

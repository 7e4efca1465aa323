"""The model server client: one kept-alive HTTP client, micro-batches, retries until the shutdown deadline.

Connection errors, timeouts, 5xx, 429 (any answer that is not a bad-input refusal) are retried by
the pipeline's retry policy. A tweet must never stall the stream: a batch the server refuses
(400/413/422), or keeps failing on while it scores a canary text, is split in halves until the one
tweet to blame is found; that tweet is stored REJECTED with the server's words, the rest are scored.
"""

from __future__ import annotations

import json
import logging

import httpx
import orjson

from streamer.records import MODEL_SERVER_FAILED, MODEL_SERVER_REFUSED, Received, rejected_item, result_item
from streamer.retry import Retry
from twitter_sentiment.contract import LABELS, model_path, predict_path, ready_path
from twitter_sentiment.settings import ConfigError
from twitter_sentiment.text import CLEANING_VERSION

log = logging.getLogger(__name__)

BAD_INPUT = (400, 413, 422)
ISOLATE_EVERY = 3  # failed tries of one batch before asking whether the server answers other texts
CANARY = ["good morning"]  # a text any model scores: if it is answered, the batch itself is to blame
JSON_HEADERS = {"Content-Type": "application/json"}


class TransientError(RuntimeError):
    """Worth retrying: the server is down, overloaded, starting, or answered nonsense."""


class Refused(ValueError):
    """The model server refused this input (4xx with a message): retrying the same input cannot help."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message = status, message


def _message(response: httpx.Response) -> str:
    try:
        body = orjson.loads(response.content)
        if isinstance(body, dict):
            return str(body.get("error") or body.get("detail") or body)[:500]
    except ValueError:
        pass
    return response.text[:500]


def _request_body(texts: list[str], cleaned: list[str] | None = None) -> bytes:
    """The v1 request; with `cleaned`, each text goes with its cleaning and our CLEANING_VERSION: a server
    with the same rules does not clean it again (cleaning was the model server's largest cost but the model).
    orjson: the standard library's encoder and decoder were 8 % of the streamer's CPU."""
    body = {"instances": texts} if cleaned is None else {
        "instances": [{"text": text, "clean": clean} for text, clean in zip(texts, cleaned)],
        "cleaning_version": CLEANING_VERSION}
    try:
        return orjson.dumps(body)
    except orjson.JSONEncodeError:  # a lone surrogate: escaped, and the server refuses that tweet alone
        return json.dumps(body).encode()


class ModelClient:
    def __init__(self, base_url: str, model_name: str, *, timeout: float = 10.0, connect_timeout: float = 2.0,
                 connections: int = 8):
        self.base_url, self.model_name = base_url.rstrip("/"), model_name
        self.predict_url = self.base_url + predict_path(model_name)
        self.ready_url = self.base_url + ready_path(model_name)
        # One client for the life of the service: connections are kept alive, not opened per request.
        self.http = httpx.Client(timeout=httpx.Timeout(timeout, connect=connect_timeout),
                                 limits=httpx.Limits(max_connections=connections,
                                                     max_keepalive_connections=connections))
        self.known = False  # the server has answered for MODEL_NAME once: a later 404 is an outage, not a typo

    def close(self) -> None:
        self.http.close()

    def ready(self, timeout: float = 2.0) -> tuple[bool, str]:
        try:
            response = self.http.get(self.ready_url, timeout=timeout)
        except httpx.HTTPError as error:
            return False, f"{self.ready_url}: {type(error).__name__}: {error}"
        return response.status_code == 200, f"{self.ready_url}: HTTP {response.status_code}"

    def check_model(self, timeout: float = 5.0) -> bool:
        """At start: ConfigError if the server answers that it has no MODEL_NAME; False if it is unreachable."""
        try:
            response = self.http.get(self.base_url + model_path(self.model_name), timeout=timeout)
        except httpx.HTTPError:
            return False
        self._check_known(response)
        return response.status_code == 200

    def _check_known(self, response: httpx.Response) -> None:
        if response.status_code == 404 and not self.known:
            raise ConfigError(f"MODEL_NAME={self.model_name!r}: the model server at {self.base_url} has no model "
                              f"of that name (HTTP 404)")
        if response.status_code == 200:
            self.known = True

    def predict_once(self, texts: list[str], cleaned: list[str] | None = None) -> tuple[list[dict], str]:
        """Predictions in order and the model version, from one request (`cleaned`: each text's cleaning)."""
        try:
            response = self.http.post(self.predict_url, content=_request_body(texts, cleaned), headers=JSON_HEADERS)
        except httpx.HTTPError as error:
            raise TransientError(f"{type(error).__name__}: {error}") from error
        self._check_known(response)
        if response.status_code in BAD_INPUT:
            raise Refused(response.status_code, _message(response))
        if response.status_code != 200:
            raise TransientError(f"HTTP {response.status_code}: {_message(response)}")
        try:
            body = orjson.loads(response.content)
            predictions = body["predictions"]
            if len(predictions) != len(texts):
                raise ValueError(f"{len(predictions)} predictions for {len(texts)} instances")
            for prediction in predictions:
                if prediction["label"] not in LABELS or not isinstance(prediction["score"], (int, float)):
                    raise ValueError(f"unexpected prediction {prediction!r}")
        except (ValueError, KeyError, TypeError) as error:
            raise TransientError(f"malformed answer from the model server: {error}") from error
        return predictions, str(body.get("model_version") or "unknown")

    def answers_others(self) -> bool:
        """Does the server score a canary text? Then a batch it keeps failing on is to blame, not the server."""
        try:
            self.predict_once(CANARY)
        except (TransientError, Refused):
            return False
        return True

    def score(self, tweets: list[Received], retry: Retry) -> list[dict]:
        """One result item per tweet, in order; tweets the server refuses or fails on become REJECTED items.

        Raises Aborted at the shutdown deadline (retry's), ConfigError for an unknown MODEL_NAME.
        """
        if not tweets:
            return []
        give_up = lambda attempt: attempt % ISOLATE_EVERY == 0 and self.answers_others()
        try:
            predictions, version = retry.call("model_server", self.predict_once, [t.text for t in tweets],
                                              [t.clean for t in tweets], errors=TransientError, give_up=give_up)
        except (Refused, TransientError) as error:
            if len(tweets) > 1:
                middle = len(tweets) // 2
                return self.score(tweets[:middle], retry) + self.score(tweets[middle:], retry)
            reason = MODEL_SERVER_REFUSED if isinstance(error, Refused) else MODEL_SERVER_FAILED
            log.warning("tweet %s rejected (%s); the reason is stored with it", tweets[0].id, reason)
            return [rejected_item(tweets[0], reason, str(error))]
        return [result_item(tweet, p["label"], p["score"], version) for tweet, p in zip(tweets, predictions)]

"""The model server client: one kept-alive HTTP client, micro-batches, retries without a time limit.

Connection errors, timeouts, 5xx, 429 (and any answer that is not a bad-input refusal) are retried
with exponential backoff and full jitter until they succeed or the service is told to give up at its
shutdown deadline. A bad-input refusal (400/413/422) is narrowed down by halving the batch, so only
the tweet the server refuses is rejected, with the server's message as the reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import httpx
from tenacity import Retrying, retry_if_exception_type, wait_random_exponential

from streamer.records import MODEL_SERVER_REFUSED, Received, rejected_item, result_item

log = logging.getLogger(__name__)

LABELS = ("NEGATIVE", "NEUTRAL", "POSITIVE")
BAD_INPUT = (400, 413, 422)


class TransientError(RuntimeError):
    """Worth retrying: the server is down, overloaded, starting, or answered nonsense."""


class Refused(ValueError):
    """The model server refused this input (4xx with a message): retrying the same input cannot help."""

    def __init__(self, status: int, message: str):
        super().__init__(f"HTTP {status}: {message}")
        self.status, self.message = status, message


class Aborted(RuntimeError):
    """The service is past its shutdown deadline: stop retrying. `pending`: what was not done."""

    def __init__(self, message: str, pending: list | None = None, stored: int = 0):
        super().__init__(message)
        self.pending, self.stored = list(pending or []), stored


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
        if isinstance(body, dict):
            return str(body.get("error") or body.get("detail") or body)[:500]
    except ValueError:
        pass
    return response.text[:500]


class ModelClient:
    def __init__(self, predict_url: str, ready_url: str, *, timeout: float = 10.0, connect_timeout: float = 2.0,
                 max_backoff: float = 10.0, connections: int = 8, abort: threading.Event | None = None,
                 on_retry: Callable[[str], None] = lambda reason: None):
        self.predict_url, self.ready_url = predict_url, ready_url
        self.max_backoff = max_backoff
        self.abort = abort or threading.Event()
        self.on_retry = on_retry
        # One client for the life of the service: connections are kept alive, not opened per request.
        self.http = httpx.Client(timeout=httpx.Timeout(timeout, connect=connect_timeout),
                                 limits=httpx.Limits(max_connections=connections,
                                                     max_keepalive_connections=connections))
        self._failing = False

    def close(self) -> None:
        self.http.close()

    def ready(self, timeout: float = 2.0) -> tuple[bool, str]:
        try:
            response = self.http.get(self.ready_url, timeout=timeout)
        except httpx.HTTPError as error:
            return False, f"{self.ready_url}: {type(error).__name__}: {error}"
        return response.status_code == 200, f"{self.ready_url}: HTTP {response.status_code}"

    def predict_once(self, texts: list[str]) -> tuple[list[dict], str]:
        """Predictions in order and the model version, from one request."""
        try:
            response = self.http.post(self.predict_url, json={"instances": texts})
        except httpx.HTTPError as error:
            raise TransientError(f"{type(error).__name__}: {error}") from error
        if response.status_code in BAD_INPUT:
            raise Refused(response.status_code, _message(response))
        if response.status_code != 200:
            raise TransientError(f"HTTP {response.status_code}: {_message(response)}")
        try:
            body = response.json()
            predictions = body["predictions"]
            if len(predictions) != len(texts):
                raise ValueError(f"{len(predictions)} predictions for {len(texts)} instances")
            for prediction in predictions:
                if prediction["label"] not in LABELS or not isinstance(prediction["score"], (int, float)):
                    raise ValueError(f"unexpected prediction {prediction!r}")
        except (ValueError, KeyError, TypeError) as error:
            raise TransientError(f"malformed answer from the model server: {error}") from error
        return predictions, str(body.get("model_version") or "unknown")

    def predict(self, texts: list[str]) -> tuple[list[dict], str]:
        """`predict_once`, retried until it succeeds or `abort` is set (then Aborted)."""
        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            wait=wait_random_exponential(multiplier=0.1, max=self.max_backoff),
            stop=lambda state: self.abort.is_set(),
            sleep=self.abort.wait,  # an interruptible sleep: the shutdown deadline ends it
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            result = retrying(self.predict_once, texts)
        except TransientError as error:
            raise Aborted(f"gave up at the shutdown deadline: {error}") from error
        if self._failing:
            log.info("model server answers again")
            self._failing = False
        return result

    def _before_sleep(self, state) -> None:
        self.on_retry("model_server")
        error = state.outcome.exception()
        attempt = state.attempt_number
        # The first failure, then every 10th: a long outage must not flood the log.
        if attempt == 1 or attempt % 10 == 0:
            log.warning("model server unavailable (attempt %d, retrying in %.2fs): %s",
                        attempt, state.upcoming_sleep, error)
        self._failing = True

    def score(self, tweets: list[Received]) -> list[dict]:
        """One result item per tweet, in order; tweets the server refuses become REJECTED items."""
        if not tweets:
            return []
        if self.abort.is_set():
            raise Aborted("past the shutdown deadline")
        try:
            predictions, version = self.predict([tweet.text for tweet in tweets])
        except Refused as refusal:
            if len(tweets) == 1:
                log.warning("model server refused tweet %s: %s", tweets[0].id, refusal)
                return [rejected_item(tweets[0], MODEL_SERVER_REFUSED, refusal.message)]
            middle = len(tweets) // 2
            return self.score(tweets[:middle]) + self.score(tweets[middle:])
        return [result_item(tweet, p["label"], p["score"], version) for tweet, p in zip(tweets, predictions)]

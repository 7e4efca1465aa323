"""Tweet sources: the X API v2 filtered stream (tweepy), and a replay file parsed by the same code.

Both hand every raw stream line to `TweetListener.on_data`; what comes out is a `Received` tweet for
the pipeline. A plain tweet message (JSON with `data`, no `errors`) is read directly into what tweepy's
path would give; every other line goes through tweepy's own parser. A line tweepy cannot parse is read
again leniently, and what still cannot be read is passed on as an unreadable line (stored as REJECTED),
never dropped.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable

import orjson
import requests
import tweepy

from streamer.health import Metrics
from streamer.records import TWEET_ID, UNEXPECTED_MESSAGE, Received, from_v2, unreadable
from streamer.retry import Aborted, Retry
from twitter_sentiment.settings import ConfigError

log = logging.getLogger(__name__)

Emit = Callable[[Received], None]
# What the stream is asked for: creation time and author, the author's username from the expansion.
TWEET_FIELDS = ["created_at", "author_id", "lang"]
EXPANSIONS = ["author_id"]
USER_FIELDS = ["username", "name"]
_TAGGED_RULE = re.compile(r"^([\w .-]+?):\s+(\S.*)$")  # "tag: value"; "from:jack" has no space, so it is a value


TWEEPY_HOST = "https://api.twitter.com"  # tweepy 4.17 hard-codes it (client.py, streaming.py)


class _Rehost(requests.adapters.HTTPAdapter):
    """Sends tweepy's requests for TWEEPY_HOST to another host: a recorded X API in tests."""

    def __init__(self, host: str):
        super().__init__()
        self.host = host

    def send(self, request, **kwargs):
        request.url = self.host + request.url[len(TWEEPY_HOST):]
        return super().send(request, **kwargs)


class TweetListener(tweepy.StreamingClient):
    """tweepy's StreamingClient with our callbacks: parse with tweepy, hand each tweet to `emit`."""

    def __init__(self, bearer_token: str, emit: Emit, metrics: Metrics, max_text_length: int, *,
                 api_url: str = TWEEPY_HOST, **kwargs):
        super().__init__(bearer_token, **kwargs)
        if api_url.rstrip("/") != TWEEPY_HOST:
            self.session.mount(TWEEPY_HOST, _Rehost(api_url.rstrip("/")))
        self.emit, self.metrics, self.max_text_length = emit, metrics, max_text_length
        self.connected = False
        self.last_event = "not connected yet"
        self._handled, self._raw = False, b""

    # --- messages -------------------------------------------------------------------------------
    def on_data(self, raw_data):
        self._handled, self._raw = False, raw_data
        try:
            if not self._read_tweet(raw_data):
                super().on_data(raw_data)
        except Exception as error:  # a callback must never end the stream: tweepy would disconnect
            if not self._handled:
                self._lenient(raw_data, error)
            else:
                log.exception("error after handling a stream message")

    def _read_tweet(self, raw_data) -> bool:
        """A plain tweet message, read straight into the Received that tweepy's path gives (`from_v2` of its
        `data`, authors by id), without building tweepy's Tweet and User objects only to read their `.data`:
        those and the standard library's JSON were a fifth of the streamer's CPU a tweet. Anything else
        (error messages, odd includes, what orjson does not read) is left to tweepy: False."""
        try:
            message = orjson.loads(raw_data)
        except orjson.JSONDecodeError:
            return False
        if type(message) is not dict or "errors" in message or type(message.get("data")) is not dict:
            return False
        includes = message.get("includes", {})
        users = includes.get("users", []) if type(includes) is dict else None
        if type(users) is not list:
            return False
        authors = {}
        for user in users:  # tweepy keys authors by str(int(id)): the same string for a canonical id only
            if type(user) is not dict or type(user.get("id")) is not str or not TWEET_ID.fullmatch(user["id"]):
                return False
            authors[user["id"]] = user
        self._handled = True
        self.emit(from_v2(message["data"], authors, self.max_text_length))
        return True

    def on_response(self, response):
        self._handled = True
        tweet = response.data
        if tweet is None:
            if not response.errors:  # valid JSON, but nothing a v2 stream sends: keep it, it may matter
                self.emit(unreadable(self._raw, "neither a tweet nor an error message", UNEXPECTED_MESSAGE))
            return
        users = {str(user.id): user.data for user in response.includes.get("users", [])}
        self.emit(from_v2(tweet.data, users, self.max_text_length))

    def _lenient(self, raw_data, error: Exception) -> None:
        """tweepy refused the line (not JSON, no text, an odd field): read what can be read ourselves."""
        try:
            message = json.loads(raw_data)
        except (ValueError, RecursionError) as unparsable:  # RecursionError: nested too deep to be a message
            self.emit(unreadable(raw_data, f"not JSON: {type(unparsable).__name__}"))
            return
        data = message.get("data") if isinstance(message, dict) else None
        if isinstance(data, dict):
            includes = message.get("includes") if isinstance(message.get("includes"), dict) else {}
            users = {str(user.get("id")): user for user in includes.get("users", []) if isinstance(user, dict)}
            self.emit(from_v2(data, users, self.max_text_length))
        else:
            self.emit(unreadable(raw_data, f"not a v2 stream message ({type(error).__name__}: {error})",
                                 UNEXPECTED_MESSAGE))

    def on_errors(self, errors):
        # Operational messages (e.g. an upstream disconnect) and partial errors (an author not found).
        self.metrics.stream_errors.labels("message").inc()
        log.warning("stream error message: %s", json.dumps(errors)[:1000])

    def on_keep_alive(self):
        self.last_event = "keep-alive"

    # --- connection -----------------------------------------------------------------------------
    def on_connect(self):
        self.connected, self.last_event = True, "connected"
        log.info("stream connected")

    def on_disconnect(self):
        self.connected, self.last_event = False, "disconnected"
        log.info("stream disconnected")

    def on_closed(self, response):
        self.connected, self.last_event = False, "closed by the server"
        self.metrics.stream_errors.labels("closed").inc()
        log.warning("stream closed by the server; reconnecting")

    def on_connection_error(self):
        self.connected, self.last_event = False, "connection error"
        self.metrics.stream_errors.labels("connection").inc()
        log.warning("stream connection error; reconnecting with backoff")

    def on_request_error(self, status_code):
        self.connected, self.last_event = False, f"HTTP {status_code}"
        self.metrics.stream_errors.labels(f"http_{status_code}").inc()
        log.error("stream refused with HTTP %d; reconnecting with backoff", status_code)

    def on_exception(self, exception):
        self.connected, self.last_event = False, f"{type(exception).__name__}: {exception}"
        self.metrics.stream_errors.labels("exception").inc()
        log.error("stream ended by an exception: %s", exception, exc_info=exception)


# --- rules -------------------------------------------------------------------------------------
def parse_rules(text: str, language: str = "") -> list[tweepy.StreamRule]:
    """STREAM_RULES, one rule a line (`value` or `tag: value`), each with the language filter added."""
    rules = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _TAGGED_RULE.match(line)
        tag, value = (match.group(1).strip(), match.group(2).strip()) if match else (None, line)
        if language and "lang:" not in value:
            value = f"({value}) lang:{language}"
        rules.append(tweepy.StreamRule(value=value, tag=tag))
    return rules


def sync_rules(client: tweepy.StreamingClient, wanted: list[tweepy.StreamRule]) -> tuple[list, list]:
    """Make the stream's rules exactly `wanted`: delete the stale ones, add the missing ones.

    Returns (added, deleted). A rule the API refuses raises ConfigError with the API's words.
    """
    key = lambda rule: (rule.value, rule.tag or None)
    current = client.get_rules().data or []
    wanted_keys = {key(rule) for rule in wanted}
    current_keys = {key(rule) for rule in current}
    stale = [rule for rule in current if key(rule) not in wanted_keys]
    missing = [rule for rule in wanted if key(rule) not in current_keys]
    if stale:
        client.delete_rules([rule.id for rule in stale])
    if missing:
        response = client.add_rules(missing)
        if response.errors:
            details = "; ".join(f"{e.get('value', '')!r}: {e.get('title', '')} {e.get('details', '')}"
                                for e in response.errors)
            raise ConfigError(f"the X API refused stream rules: {details}")
    log.info("stream rules synchronised: %d added, %d deleted, %d kept", len(missing), len(stale),
             len(wanted) - len(missing))
    return missing, stale


# --- sources -----------------------------------------------------------------------------------
class ReplaySource:
    """Recorded v2 stream lines (JSON Lines; a blank line is a keep-alive), optionally paced."""

    name = "replay"

    def __init__(self, path: str, metrics: Metrics, max_text_length: int, rate: float = 0.0):
        self.path, self.metrics, self.max_text_length, self.rate = path, metrics, max_text_length, rate
        self.lines_read = 0
        self.finished = False
        self._stop = threading.Event()

    def run(self, emit: Emit) -> None:
        listener = TweetListener("replay", emit, self.metrics, self.max_text_length)
        due = time.monotonic()
        with open(self.path, "rb") as lines:
            for line in lines:
                if self._stop.is_set():
                    log.info("replay stopped after %d lines", self.lines_read)
                    return
                line = line.rstrip(b"\r\n")
                self.lines_read += 1
                if not line.strip():
                    listener.on_keep_alive()
                    continue
                if self.rate > 0:  # the stream's pace; after a stall (back-pressure) at most 1 s of catching up
                    now = time.monotonic()
                    due = max(due, now - 1.0)
                    if due > now and self._stop.wait(due - now):
                        return
                    due += 1 / self.rate
                listener.on_data(line)
        self.finished = True
        log.info("replay of %s finished: %d lines", self.path, self.lines_read)

    def stop(self) -> None:
        self._stop.set()

    def check(self) -> tuple[bool, str]:
        if not os.path.isfile(self.path):
            return False, f"{self.path} is missing"
        return True, f"{self.path}: {self.lines_read} lines read" + (", finished" if self.finished else "")


class StreamEnded(RuntimeError):
    """tweepy's loop returned although we did not stop it: connect again."""


class XSource:
    """The X API v2 filtered stream. Reconnects with backoff (tweepy's, then ours); never ends on its own.

    BACKFILL_MINUTES (1-5) asks X to send again what it matched while we were away, on every connection:
    after a crash too. X's docs: backfill is for Enterprise access, and its Posts are not deduplicated
    (https://docs.x.com/x-api/fundamentals/recovery-and-redundancy); results are keyed by id, so
    duplicates are stored once.
    """

    name = "x"

    def __init__(self, bearer_token: str, rules: list[tweepy.StreamRule], metrics: Metrics, max_text_length: int,
                 *, api_url: str = TWEEPY_HOST, backfill_minutes: int = 0, max_backoff: float = 60.0):
        self.bearer_token, self.rules, self.metrics = bearer_token, rules, metrics
        self.max_text_length, self.api_url, self.backfill_minutes = max_text_length, api_url, backfill_minutes
        self.listener: TweetListener | None = None
        self._stop = threading.Event()
        self._retry = Retry(self._stop, max_backoff=max_backoff,
                            on_retry=lambda target: metrics.retried.labels(target).inc())

    def run(self, emit: Emit) -> None:
        self.listener = TweetListener(self.bearer_token, emit, self.metrics, self.max_text_length,
                                      api_url=self.api_url, wait_on_rate_limit=True)
        try:
            # A wrong token or rule is not retried: the operator must see it.
            self._retry.call("x_rules", sync_rules, self.listener, self.rules,
                             errors=(tweepy.TooManyRequests, tweepy.TwitterServerError, requests.RequestException))
            # tweepy reconnects by itself after errors and closed connections; it returns only when
            # disconnected by us or when a callback raised.
            self._retry.call("x_stream", self._connect, errors=StreamEnded)
        except Aborted:  # stopped while waiting to retry
            return

    def _connect(self) -> None:
        extra = {"backfill_minutes": self.backfill_minutes} if self.backfill_minutes else {}
        self.listener.filter(tweet_fields=TWEET_FIELDS, expansions=EXPANSIONS, user_fields=USER_FIELDS, **extra)
        if not self._stop.is_set():
            raise StreamEnded("the stream ended")

    def stop(self) -> None:
        self._stop.set()
        if self.listener is not None:
            self.listener.disconnect()

    def check(self) -> tuple[bool, str]:
        if self.listener is None:
            return False, "not started"
        return self.listener.connected, f"X filtered stream: {self.listener.last_event}"

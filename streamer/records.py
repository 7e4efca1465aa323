"""What the streamer handles: a received tweet, and the result item stored for it.

Every message that carries a tweet, or that cannot be read at all, becomes exactly one item:
scored (`POSITIVE`/`NEUTRAL`/`NEGATIVE`), `REJECTED` with a `reason` (bad tweets: kept, never
silently dropped), or `UNSCORED` (received but not scored before a shutdown deadline).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from twitter_sentiment.text import clean_tweet

REJECTED, UNSCORED = "REJECTED", "UNSCORED"
# Reasons a tweet is not sent to the model (the `reason` attribute and the metrics label).
NOT_JSON, NO_ID, NO_TEXT, EMPTY_AFTER_CLEANING, TOO_LONG = (
    "not_json", "no_id", "no_text", "empty_after_cleaning", "too_long")
UNEXPECTED_MESSAGE = "unexpected_message"  # valid JSON, but neither a tweet nor an error message
MODEL_SERVER_REFUSED = "model_server_refused"
# A stored attribute stays far below DynamoDB's 400 KB item limit whatever the stream sends.
MAX_STORED_CHARS = 16_000


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Received:
    """One tweet taken from the source; `reason` set means it is not sent to the model."""

    id: str
    user: str
    text: str
    clean: str
    date: str
    reason: str | None = None
    detail: str = ""  # for a rejected tweet: what exactly was wrong

    @property
    def scorable(self) -> bool:
        return self.reason is None


def from_v2(tweet: dict, users: dict[str, dict], max_text_length: int) -> Received:
    """A tweet from a v2 stream message's `data`, its author looked up in `includes.users`."""
    tweet_id = str(tweet.get("id") or "").strip()
    text = tweet.get("text")
    author_id = str(tweet.get("author_id") or "")
    author = users.get(author_id) or {}
    user = str(author.get("username") or author_id)  # author not hydrated: keep at least the id
    date = str(tweet.get("created_at") or now_iso())  # created_at not requested: the time we saw it
    if not tweet_id:
        raw = json.dumps(tweet, sort_keys=True, ensure_ascii=False)
        return Received(_synthetic_id(raw), user, raw[:MAX_STORED_CHARS], "", date, NO_ID,
                        "message has data without id")
    if not isinstance(text, str) or not text.strip():
        return Received(tweet_id, user, "" if text is None else str(text)[:MAX_STORED_CHARS], "", date, NO_TEXT,
                        "tweet has no text")
    if len(text) > max_text_length:
        return Received(tweet_id, user, text[:MAX_STORED_CHARS], "", date, TOO_LONG,
                        f"{len(text)} characters, the model server takes at most {max_text_length}")
    clean = clean_tweet(text)
    if not clean:
        return Received(tweet_id, user, text, "", date, EMPTY_AFTER_CLEANING, "nothing left after cleaning")
    return Received(tweet_id, user, text, clean, date)


def unreadable(line: bytes | str, detail: str, reason: str = NOT_JSON) -> Received:
    """A stream line that is not a v2 message: kept under an id derived from its bytes (a replay stores it once)."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    return Received(_synthetic_id(text), "", text[:MAX_STORED_CHARS], "", now_iso(), reason, detail[:500])


def _synthetic_id(content: str) -> str:
    return "invalid-" + hashlib.sha256(content.encode("utf-8", "replace")).hexdigest()[:32]


def result_item(tweet: Received, label: str, score: float, model_version: str) -> dict:
    """The item of DESIGN.md; DynamoDB numbers are Decimal."""
    return {
        "id": tweet.id,
        "user": tweet.user,
        "sentiment": label,
        "score": Decimal(repr(float(score))),
        "twitter_raw": tweet.text,
        "twitter_clean": tweet.clean,
        "date": tweet.date,
        "model_version": model_version,
    }


def rejected_item(tweet: Received, reason: str | None = None, detail: str | None = None) -> dict:
    return {
        "id": tweet.id,
        "user": tweet.user,
        "sentiment": REJECTED,
        "reason": f"{reason or tweet.reason}: {detail if detail is not None else tweet.detail}",
        "twitter_raw": tweet.text,
        "twitter_clean": tweet.clean,
        "date": tweet.date,
        "model_version": "",
    }


def unscored_item(tweet: Received, why: str) -> dict:
    return {
        "id": tweet.id,
        "user": tweet.user,
        "sentiment": UNSCORED,
        "reason": why,
        "twitter_raw": tweet.text,
        "twitter_clean": tweet.clean,
        "date": tweet.date,
        "model_version": "",
    }

"""What the streamer handles: a received tweet, and the result item stored for it.

Every message that carries a tweet, or that cannot be read at all, becomes exactly one item:
scored (`POSITIVE`/`NEUTRAL`/`NEGATIVE`), `REJECTED` with a `reason` (bad tweets: kept, never
silently dropped), or `UNSCORED` (received but not scored before a shutdown deadline).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

from twitter_sentiment.contract import REJECTED, UNSCORED
from twitter_sentiment.text import EMPTY_AFTER_CLEANING, NO_TEXT, TOO_LONG, TextRejected, scorable_text  # noqa: F401

# Reasons a tweet is not sent to the model (the `reason` attribute and the metrics label), beside the core's.
NOT_JSON, NO_ID, BAD_ID = "not_json", "no_id", "bad_id"
UNEXPECTED_MESSAGE = "unexpected_message"  # valid JSON, but neither a tweet nor an error message
MODEL_SERVER_REFUSED = "model_server_refused"  # a 4xx for this tweet alone
MODEL_SERVER_FAILED = "model_server_failed"  # a 5xx for this tweet alone, while the server scores others
# A stored attribute stays far below DynamoDB's 400 KB item limit whatever the stream sends.
MAX_STORED_CHARS = 16_000
TWEET_ID = re.compile(r"[1-9][0-9]{0,19}|0")  # X ids are decimal strings of a 64-bit snowflake


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
    segment: int | None = field(default=None, compare=False, repr=False)  # its journal segment, until stored

    @property
    def scorable(self) -> bool:
        return self.reason is None


def from_v2(tweet: dict, users: dict[str, dict], max_text_length: int) -> Received:
    """A tweet from a v2 stream message's `data`, its author looked up in `includes.users`."""
    tweet_id, text = tweet.get("id"), tweet.get("text")
    author_id = _plain(tweet.get("author_id"))
    author = users.get(author_id) or {}
    user = _plain(author.get("username")) or author_id  # author not hydrated: keep at least the id
    date = _plain(tweet.get("created_at")) or now_iso()  # created_at not requested: the time we saw it
    if tweet_id is None or tweet_id == "":
        raw = _storable(json.dumps(tweet, sort_keys=True, ensure_ascii=False, default=str))
        return Received(_synthetic_id(raw), user, raw[:MAX_STORED_CHARS], "", date, NO_ID,
                        "message has data without id")
    if not isinstance(tweet_id, str) or not TWEET_ID.fullmatch(tweet_id):
        # Stored under a key made from the whole message, never under what was sent as its id.
        raw = _storable(json.dumps(tweet, sort_keys=True, ensure_ascii=False, default=str))
        shown = json.dumps(tweet_id, ensure_ascii=True, default=str)
        return Received(_synthetic_id(raw), user, raw[:MAX_STORED_CHARS], "", date, BAD_ID,
                        f"id is not a decimal string: {shown[:40]}{'...' if len(shown) > 40 else ''}")
    text = _storable(text) if isinstance(text, str) else text
    try:
        clean = scorable_text(text, max_text_length)
    except TextRejected as rejected:
        kept = text if isinstance(text, str) else "" if text is None else json.dumps(text, default=str)
        return Received(tweet_id, user, kept[:MAX_STORED_CHARS], "", date, rejected.reason, str(rejected))
    return Received(tweet_id, user, text, clean, date)


def _plain(value) -> str:
    """A stored string attribute from what the stream sent (a number, or junk, becomes its short text)."""
    if value is None:
        return ""
    return _storable(value if isinstance(value, str) else json.dumps(value, default=str))[:200]


def _storable(text: str) -> str:
    """JSON may carry lone surrogates (`\\ud800`); no UTF-8 store takes them: they become "?"."""
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")


def unreadable(line: bytes | str, detail: str, reason: str = NOT_JSON) -> Received:
    """A stream line that is not a v2 message: kept under an id derived from its bytes (a replay stores it once)."""
    text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
    return Received(_synthetic_id(text), "", text[:MAX_STORED_CHARS], "", now_iso(), reason, detail[:500])


def _synthetic_id(content: str) -> str:
    return "invalid-" + hashlib.sha256(content.encode("utf-8", "replace")).hexdigest()[:32]


def _item(tweet: Received, sentiment: str, model_version: str = "", **outcome) -> dict:
    """The item of DESIGN.md: the tweet, its sentiment and what goes with it (a score, or a reason)."""
    return {"id": tweet.id, "user": tweet.user, "sentiment": sentiment, **outcome, "twitter_raw": tweet.text,
            "twitter_clean": tweet.clean, "date": tweet.date, "model_version": model_version}


def result_item(tweet: Received, label: str, score: float, model_version: str) -> dict:
    return _item(tweet, label, model_version, score=Decimal(repr(float(score))))  # DynamoDB numbers are Decimal


def rejected_item(tweet: Received, reason: str | None = None, detail: str | None = None) -> dict:
    return _item(tweet, REJECTED, reason=f"{reason or tweet.reason}: {detail if detail is not None else tweet.detail}")


def unscored_item(tweet: Received, why: str) -> dict:
    return _item(tweet, UNSCORED, reason=why)

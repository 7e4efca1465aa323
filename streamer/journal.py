"""A durable journal of received-but-unstored tweets: what a crash (`kill -9`, OOM) would otherwise lose.

Each tweet is appended to the current segment file before it is queued; a segment file is deleted
once every tweet in it is stored (scored, REJECTED or UNSCORED). After a crash, the next start reads
the segments left behind and stores their tweets again (results are keyed by id: a tweet stored
before the crash is overwritten with the same item, never duplicated). A write goes to the kernel at
once (one `os.write` per tweet, no fsync): a killed process loses nothing; a lost node loses the
volume too, which the X API's backfill covers where the tier allows.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import threading
from collections.abc import Iterable
from pathlib import Path

from streamer.records import Received
from twitter_sentiment.text import clean_tweet

log = logging.getLogger(__name__)

SEGMENT_TWEETS = 1000  # tweets per segment file: a file is deleted as soon as all of its tweets are stored
_FIELDS = [field.name for field in dataclasses.fields(Received) if field.name != "segment"]


class Journal:
    def __init__(self, directory: str | Path, segment_tweets: int = SEGMENT_TWEETS):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.segment_tweets = segment_tweets
        self._lock = threading.Lock()
        self._outstanding: dict[int, int] = {}  # segment -> tweets in it not stored yet
        self._recovered = sorted(int(path.stem) for path in self.directory.glob("*.jsonl"))
        self._segment = (self._recovered[-1] if self._recovered else 0) + 1
        self._in_segment = 0
        self._fd: int | None = None

    def _path(self, segment: int) -> Path:
        return self.directory / f"{segment:012d}.jsonl"

    def recovered(self) -> list[Received]:
        """The tweets a previous process received and did not store (each once, in the order received)."""
        tweets: dict[str, Received] = {}
        with self._lock:
            for segment in self._recovered:
                self._outstanding.setdefault(segment, 0)
                for line in self._path(segment).read_bytes().splitlines():
                    try:
                        tweet = Received(**json.loads(line), segment=segment)
                        if tweet.scorable:  # cleaned again: the journal may predate these rules (CLEANING_VERSION)
                            tweet.clean = clean_tweet(tweet.text)
                    except (ValueError, TypeError):  # a line cut short by the crash: its tweet was never queued
                        log.warning("journal segment %d: skipped an incomplete line", segment)
                        continue
                    earlier = tweets.pop(tweet.id, None)
                    if earlier is not None:  # received twice (a reconnect, backfill): stored once
                        self._outstanding[earlier.segment] -= 1
                    tweets[tweet.id] = tweet
                    self._outstanding[segment] += 1
            self._recovered = []
            self._collect()
        if tweets:
            log.info("journal: %d tweets received before a crash are stored again", len(tweets))
        return list(tweets.values())

    def append(self, tweet: Received) -> None:
        record = {name: getattr(tweet, name) for name in _FIELDS}
        line = json.dumps(record, ensure_ascii=False).encode("utf-8", "replace") + b"\n"
        with self._lock:
            if self._fd is None or self._in_segment >= self.segment_tweets:
                self._rotate()
            os.write(self._fd, line)
            self._in_segment += 1
            tweet.segment = self._segment
            self._outstanding[self._segment] = self._outstanding.get(self._segment, 0) + 1

    def _rotate(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            self._segment += 1
            self._collect()
        self._fd = os.open(self._path(self._segment), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._in_segment = 0

    def done(self, tweets: Iterable[Received]) -> None:
        """These tweets are stored: a segment whose tweets are all stored goes."""
        with self._lock:
            for tweet in tweets:
                if tweet.segment is not None:
                    self._outstanding[tweet.segment] = self._outstanding.get(tweet.segment, 0) - 1
                    tweet.segment = None  # counted once, even if stored twice
            self._collect()

    def _collect(self) -> None:
        """Delete the segments (except the one being written) whose tweets are all stored."""
        current = self._segment if self._fd is not None else None
        for segment in [s for s, left in self._outstanding.items() if left <= 0 and s != current]:
            del self._outstanding[segment]
            self._delete(segment)

    def _delete(self, segment: int) -> None:
        try:
            self._path(segment).unlink()
        except FileNotFoundError:
            pass

    def close(self) -> None:
        """At a clean exit: the open segment goes too if all of its tweets are stored."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
                self._outstanding.setdefault(self._segment, 0)
                self._collect()

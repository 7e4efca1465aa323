"""Stream lines through tweepy's own parser (TweetListener.on_data): tweets, bad tweets, operational lines."""

from __future__ import annotations

import json

import pytest

from streamer.health import Metrics
from streamer.records import (
    EMPTY_AFTER_CLEANING,
    NO_ID,
    NO_TEXT,
    NOT_JSON,
    REJECTED,
    TOO_LONG,
    UNEXPECTED_MESSAGE,
    rejected_item,
    result_item,
)
from streamer.replay import DISCONNECT_MESSAGE, line, messages
from streamer.sources import TweetListener
from tests.streamer.conftest import tweets_in
from twitter_sentiment.text import clean_tweet

TWEET = {"data": {"id": "2051225316823543808", "text": "Loving the new #Coachella lineup!!! 😂 http://t.co/x",
                  "author_id": "10142542", "created_at": "2026-05-04T09:00:00.111Z", "lang": "en",
                  "edit_history_tweet_ids": ["2051225316823543808"]},
         "includes": {"users": [{"id": "10142542", "username": "gus_sings18", "name": "Gus Sings18"}]},
         "matching_rules": [{"id": "1798310211146543104", "tag": "sentiment sample"}]}


def parse(*raw_lines: bytes, max_text_length: int = 1000):
    received, metrics = [], Metrics()
    listener = TweetListener("replay", received.append, metrics, max_text_length)
    for raw in raw_lines:
        listener.on_data(raw)
    return received, metrics


def with_data(**changes) -> bytes:
    message = json.loads(json.dumps(TWEET))
    for key, value in changes.items():
        if value is None:
            message["data"].pop(key, None)
        else:
            message["data"][key] = value
    return line(message).rstrip(b"\r\n")


def test_a_tweet_through_tweepys_parser():
    (tweet,), _ = parse(line(TWEET).rstrip(b"\r\n"))
    assert tweet.scorable
    assert tweet.id == "2051225316823543808"
    assert tweet.user == "gus_sings18"  # the username, from the author_id expansion
    assert tweet.text == TWEET["data"]["text"]
    expected = "loving the new coachella lineup emoji_face_with_tears_of_joy"
    assert tweet.clean == clean_tweet(TWEET["data"]["text"]) == expected
    assert tweet.date == "2026-05-04T09:00:00.111Z"


def test_result_item_has_the_fields_of_the_design():
    (tweet,), _ = parse(line(TWEET).rstrip(b"\r\n"))
    item = result_item(tweet, "POSITIVE", 0.912345, "v1")
    assert set(item) == {"id", "user", "sentiment", "score", "twitter_raw", "twitter_clean", "date", "model_version"}
    assert str(item["score"]) == "0.912345" and type(item["score"]).__name__ == "Decimal"


@pytest.mark.parametrize("raw, reason", [
    (with_data(text=None), NO_TEXT),
    (with_data(text="   "), NO_TEXT),
    (with_data(text="@someone https://t.co/abc !!!"), EMPTY_AFTER_CLEANING),
    (with_data(text="long " * 201), TOO_LONG),
    (with_data(id=None), NO_ID),
    (b'{"data": {"id": "1", "text": "cut off in the midd', NOT_JSON),
    (b"\xff\xfe not even utf-8", NOT_JSON),
    (b"[1, 2, 3]", UNEXPECTED_MESSAGE),
    (b'{"data": "not an object"}', UNEXPECTED_MESSAGE),
    (b'{"matching_rules": []}', UNEXPECTED_MESSAGE),
])
def test_bad_tweets_are_passed_on_with_a_reason_and_the_stream_goes_on(raw, reason):
    good = line(TWEET).rstrip(b"\r\n")
    received, _ = parse(good, raw, good)
    assert [t.scorable for t in received] == [True, False, True]
    bad = received[1]
    assert bad.reason == reason and bad.detail
    item = rejected_item(bad)
    assert item["sentiment"] == REJECTED and item["reason"].startswith(reason) and item["id"]


def test_an_unreadable_line_gets_the_same_id_every_time():
    (first,), _ = parse(b"garbage {")
    (again,), _ = parse(b"garbage {")
    (other,), _ = parse(b"other garbage {")
    assert first.id == again.id != other.id and first.id.startswith("invalid-")


def test_operational_messages_are_not_tweets_and_do_not_end_the_stream():
    received, metrics = parse(line(DISCONNECT_MESSAGE).rstrip(b"\r\n"), line(TWEET).rstrip(b"\r\n"))
    assert len(received) == 1 and received[0].scorable
    assert metrics.value("streamer_stream_errors_total", kind="message") == 1


def test_author_not_hydrated_keeps_the_author_id():
    message = json.loads(json.dumps(TWEET))
    message["includes"] = {}
    message["errors"] = [{"title": "Not Found Error", "resource_type": "user", "resource_id": "10142542"}]
    (tweet,), metrics = parse(line(message).rstrip(b"\r\n"))
    assert tweet.scorable and tweet.user == "10142542"
    assert metrics.value("streamer_stream_errors_total", kind="message") == 1


def test_matching_rule_without_tag_is_read_leniently():
    # tweepy 4.17 raises KeyError on a matching rule without "tag"; the tweet is still taken.
    message = json.loads(json.dumps(TWEET))
    message["matching_rules"] = [{"id": "1"}]
    (tweet,), _ = parse(line(message).rstrip(b"\r\n"))
    assert tweet.scorable and tweet.user == "gus_sings18"


def test_make_replay_writes_v2_stream_messages(tmp_path):
    from streamer.replay import main

    out = tmp_path / "replay.jsonl"
    assert main(["--count", "120", "--out", str(out)]) == 0
    raw = out.read_bytes()
    assert raw.endswith(b"\r\n") and b"\n" not in raw.replace(b"\r\n", b"")
    lines = raw.split(b"\r\n")[:-1]
    assert b"" in lines  # keep-alives
    decoded = [json.loads(x) for x in lines if x]
    assert any("errors" in m and "data" not in m for m in decoded)  # an operational-disconnect message
    tweets = tweets_in(out)
    assert len(tweets) == 120
    for message in tweets:
        assert set(message) <= {"data", "includes", "matching_rules", "errors"}
        assert {"id", "text", "author_id", "created_at", "lang"} <= set(message["data"])
        assert message["matching_rules"] and all({"id", "tag"} == set(r) for r in message["matching_rules"])
    ids = [int(m["data"]["id"]) for m in tweets]
    dates = [m["data"]["created_at"] for m in tweets]
    assert ids == sorted(ids) and len(set(ids)) == 120 and dates == sorted(dates)
    assert dates[0][:10] == "2026-05-04" and dates[0] != dates[-1]
    assert len({m["data"]["author_id"] for m in tweets}) > 10
    # Everything in it parses through tweepy; only the tweets come out, all scorable.
    received, _ = parse(*[x for x in lines if x])
    assert [t.id for t in received] == [m["data"]["id"] for m in tweets]
    assert all(t.scorable for t in received)


def test_replay_texts_are_the_embedded_samples():
    from streamer.replay import tweet_texts

    texts = set(tweet_texts())
    assert all(m["data"]["text"] in texts for m in messages(50) if m and "data" in m)


class ThroughTweepyOnly(TweetListener):
    """The listener as it was: every line through tweepy's on_data (and the lenient reading after it)."""

    def _read_tweet(self, raw_data) -> bool:
        return False


def test_plain_tweets_read_directly_come_out_as_through_tweepy(monkeypatch):
    """The direct reading of plain tweet messages is an optimisation only: for every line (the replay, the
    hostile cases, odd authors) the listener emits what tweepy's path emits, and counts the same errors."""
    from tests.streamer.test_hostile_input import CASES

    monkeypatch.setattr("streamer.records.now_iso", lambda: "2026-05-04T09:00:00.000Z")  # for undated lines
    odd_authors = []
    for users in ([{"id": "007", "username": "zero", "name": "Zero"}], [{"id": 10142542, "username": "number"}],
                  [{"id": "10142542"}], [{"id": "10142542", "username": "a"}, {"id": "10142542", "username": "b"}],
                  "not a list", [["a", "list"]]):
        message = json.loads(json.dumps(TWEET))
        message["includes"] = {"users": users}
        odd_authors.append(line(message))
        message["data"]["author_id"] = "7"  # tweepy finds the author "007" under "7"
        odd_authors.append(line(message))
    lines = [line(m) for m in messages(300, seed=3) if m is not None] + [raw for _, raw, _, _ in CASES] + [
        line(TWEET), line(TWEET).replace(b'"lang"', b'"lang": "de", "lang"'),  # a duplicate key
        b'{"data": {"id": "1", "text": "big", "n": 123456789012345678901234567890}}',  # past orjson's integers
        b'\xef\xbb\xbf' + line(TWEET), line(TWEET).decode().encode("utf-16"),  # a BOM; UTF-16, which json reads
        *odd_authors, b'{"data": {"id": "1", "text": "no includes"}, "includes": []}']
    read_directly = []

    class Counting(TweetListener):
        def _read_tweet(self, raw_data) -> bool:
            read_directly.append(super()._read_tweet(raw_data))
            return read_directly[-1]

    for listener_class in (Counting, ThroughTweepyOnly):
        received, metrics = [], Metrics()
        listener = listener_class("replay", received.append, metrics, 280)
        for raw in lines:
            listener.on_data(raw.rstrip(b"\r\n"))
        if listener_class is Counting:
            direct, direct_errors = received, metrics.total("streamer_stream_errors_total")
    assert sum(read_directly) >= 280  # the replay's plain tweets took the direct path
    assert len(direct) == len(received) >= len(lines) - 10
    for ours, tweepys in zip(direct, received):
        assert ours == tweepys
    assert direct_errors == metrics.total("streamer_stream_errors_total")

"""Hostile stream input, through tweepy's parser, the real model server and DynamoDB Local.

Every case is one line of a recorded stream, mixed among good tweets. Each line that carries a tweet
(or cannot be read at all) ends as exactly one item: scored, or REJECTED with its reason. Nothing is
lost, nothing stalls the stream, and no tweet text reaches the log.
"""

from __future__ import annotations

import json
import logging

import pytest

from streamer.replay import line, messages
from streamer.sinks import DynamoDBSink, create_table
from tests.streamer.conftest import Run
from twitter_sentiment import dynamodb_local

pytestmark = pytest.mark.slow

GOOD = [m for m in messages(40, seed=21) if m and "data" in m]


def tweet(marker: str, **data) -> bytes:
    """A v2 message whose text carries `marker`; `data` replaces fields (None removes one)."""
    message = json.loads(json.dumps(GOOD[0]))
    message["data"].update(id=f"19000000000000000{marker[-2:]}", text=f"{marker} what a lovely day")
    for key, value in data.items():
        if value is None:
            message["data"].pop(key, None)
        else:
            message["data"][key] = value
    return line(message)


# (marker, the raw stream line, the expected sentiment or REJECTED reason, whether the key is the tweet's own id)
CASES = [
    ("case01", tweet("case01", id={"x": 625}), "bad_id", False),
    ("case02", tweet("case02", id="1" * 2048), "bad_id", False),  # DynamoDB refuses keys over 2 KB
    ("case03", tweet("case03", id=625), "bad_id", False),  # a JSON number: X ids are strings
    ("case04", tweet("case04", id="-5"), "bad_id", False),
    ("case05", tweet("case05", id=" 123 "), "bad_id", False),
    ("case06", tweet("case06", id="12a"), "bad_id", False),
    ("case07", tweet("case07", id="١٢٣"), "bad_id", False),  # digits, but not ASCII ones
    ("case08", tweet("case08", id="007"), "bad_id", False),
    ("case09", tweet("case09", id=[1, 2]), "bad_id", False),
    ("case10", tweet("case10", id=True), "bad_id", False),
    ("case11", tweet("case11", id=None), "no_id", False),
    ("case12", tweet("case12", id=""), "no_id", False),
    ("case13", tweet("case13", text="case13 " + "x" * 100_000), "too_long", True),
    ("case14", tweet("case14", text=["case14", "a list"]), "no_text", True),
    ("case15", tweet("case15", text={"case15": 1}), "no_text", True),
    ("case16", tweet("case16", text="\u2003\u00a0", author_id="case16"), "no_text", True),  # the marker: the user
    ("case17", tweet("case17", text="@case17 https://t.co/x !!!"), "empty_after_cleaning", True),
    ("case18", tweet("case18", text="case18 good\x00day \x1b[31m red"), "scored", True),
    ("case19", tweet("case19", text="case19 😂😂 🎉"), "scored", True),
    ("case20", tweet("case20", author_id={"id": 5}, created_at=12345), "scored", True),
    ("case21", b'{"data": {"id": "1900000000000000021", "text": "case21 love it", "author_id": "1"},'
               b' "includes": {"users": "not a list"}}\r\n', "scored", True),
    ("case22", b'{"data": {"id": "1900000000000000022", "text": "case22 cut off in the midd\r\n', "not_json", False),
    ("case23", b"case23 \xff\xfe not even utf-8\r\n", "not_json", False),
    ("case24", b'["case24", 1, 2]\r\n', "unexpected_message", False),
    ("case25", b'{"data": "case25 not an object"}\r\n', "unexpected_message", False),
    ("case26", b'"case26 a bare string"\r\n', "unexpected_message", False),
    ("case27", b'{"case27": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\r\n", "not_json", False),  # too deep
    ("case28", tweet("case28", text="case28 LONE surrogate").replace(b"LONE", b"\\ud800"), "scored", True),
]


@pytest.fixture(scope="module")
def outcome(tmp_path_factory, model_server_url, dynamodb_endpoint):
    """One run over all the cases, each between good tweets; (items by case, summary, good ids, log text)."""
    lines = []
    for n, (_, raw, _, _) in enumerate(CASES):
        lines += [line(GOOD[n % len(GOOD)]), raw]
    lines.append(CASES[19][1])  # a case sent twice: stored once
    replay = tmp_path_factory.mktemp("hostile") / "hostile.jsonl"
    replay.write_bytes(b"".join(lines))
    client = dynamodb_local.client(dynamodb_endpoint)
    create_table(client, "hostile")
    sink = DynamoDBSink("hostile", client)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger().addHandler(handler)
    try:
        summary = Run(replay, model_server_url, sink, batch_size=16)(timeout=180)
    finally:
        logging.getLogger().removeHandler(handler)
    items = sink.items()
    by_case = {marker: [item for item in items if marker in json.dumps(item, default=str, ensure_ascii=False)
                        and item["id"] not in {m["data"]["id"] for m in GOOD}] for marker, *_ in CASES}
    log_text = "\n".join(record.getMessage() for record in records)
    return by_case, summary, items, log_text


@pytest.mark.parametrize("marker, raw, expected, own_id", CASES, ids=[case[0] for case in CASES])
def test_each_hostile_line_is_stored_once(outcome, marker, raw, expected, own_id):
    by_case, *_ = outcome
    (item,) = by_case[marker]
    if expected == "scored":
        assert item["sentiment"] in ("POSITIVE", "NEUTRAL", "NEGATIVE"), item.get("reason")
    else:
        assert item["sentiment"] == "REJECTED" and item["reason"].startswith(expected + ":"), item["reason"]
    key = item["id"]
    assert len(key.encode()) <= 64 and (key.isdigit() if own_id else key.startswith("invalid-"))
    for name in ("user", "date", "twitter_raw"):
        assert isinstance(item[name], str) and len(item[name]) <= 16_000


def test_nothing_is_lost_and_no_tweet_text_is_logged(outcome):
    by_case, summary, items, log_text = outcome
    good_ids = {m["data"]["id"] for m in GOOD[:len(CASES)]}
    assert good_ids <= {item["id"] for item in items}
    assert len(items) == len(good_ids) + len(CASES) and summary.complete and summary.error is None
    assert summary.received == len(CASES) * 2 + 1
    for marker, *_ in CASES:
        assert marker not in log_text
    for message in GOOD:
        assert message["data"]["text"] not in log_text

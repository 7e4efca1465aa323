"""The sinks: SQLite (embedded default) and DynamoDB Local, keyed by tweet id."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from streamer.retry import Aborted, Retry
from streamer.sinks import TTL_ATTRIBUTE, DynamoDBSink, create_table


def item(n: int, **changes) -> dict:
    return {"id": f"20512253168235{n:05d}", "user": f"user{n}", "sentiment": "POSITIVE",
            "score": Decimal("0.912345"), "twitter_raw": f"great day {n} 😂", "twitter_clean": f"great day {n}",
            "date": "2026-05-04T09:00:00.111Z", "model_version": "v1", **changes}


def test_sqlite_upsert_keeps_one_item_per_tweet(sqlite_sink):
    assert sqlite_sink.write([item(1), item(2)]) == 2
    assert sqlite_sink.write([item(1, sentiment="NEGATIVE", score=Decimal("0.1")), item(1)]) == 2
    stored = sorted(sqlite_sink.items(), key=lambda i: i["id"])
    assert stored == [item(1), item(2)]
    assert sqlite_sink.write_absent([item(1, sentiment="UNSCORED", score=None), item(3, sentiment="UNSCORED")]) == 2
    by_id = {i["id"]: i for i in sqlite_sink.items()}
    assert by_id[item(1)["id"]]["sentiment"] == "POSITIVE"  # a spill never overwrites a result
    assert by_id[item(3)["id"]]["sentiment"] == "UNSCORED"


def test_dynamodb_items_round_trip_with_decimal_scores(dynamodb_sink):
    items = [item(n) for n in range(60)]
    assert dynamodb_sink.write(items + items[:5]) == 65  # duplicates in one call: BatchWriteItem would refuse them
    stored = sorted(dynamodb_sink.items(), key=lambda i: i["id"])
    assert stored == items
    assert isinstance(stored[0]["score"], Decimal)
    assert dynamodb_sink.check()[0]


def test_dynamodb_write_absent_does_not_overwrite(dynamodb_sink):
    dynamodb_sink.write([item(1)])
    dynamodb_sink.write_absent([item(1, sentiment="UNSCORED", score=None), item(2, sentiment="UNSCORED", score=None)])
    by_id = {i["id"]: i for i in dynamodb_sink.items()}
    assert by_id[item(1)["id"]] == item(1)
    assert by_id[item(2)["id"]]["sentiment"] == "UNSCORED" and "score" not in by_id[item(2)["id"]]


class PartlyUnprocessed:
    """A real DynamoDB client whose batch writes, the first `times` times, send only half the items for real
    and hand the other half back as UnprocessedItems, as DynamoDB does when it throttles part of a batch."""

    def __init__(self, client, times: int):
        self.client, self.times, self.calls, self.returned = client, times, 0, 0
        self.lock = threading.Lock()

    def __getattr__(self, name):
        return getattr(self.client, name)

    def batch_write_item(self, RequestItems):
        with self.lock:
            self.calls += 1
            partial = self.times > 0
            self.times -= 1
        if not partial:
            return self.client.batch_write_item(RequestItems=RequestItems)
        (table, requests), = RequestItems.items()
        keep, back = requests[: len(requests) // 2], requests[len(requests) // 2:]
        response = self.client.batch_write_item(RequestItems={table: keep}) if keep else {"UnprocessedItems": {}}
        unprocessed = response.get("UnprocessedItems", {}).get(table, []) + back
        with self.lock:
            self.returned += len(back)
        return {**response, "UnprocessedItems": {table: unprocessed} if unprocessed else {}}


def test_dynamodb_unprocessed_items_are_retried_until_stored(dynamodb_table):
    client, name = dynamodb_table
    flaky = PartlyUnprocessed(client, times=6)
    retries = []
    sink = DynamoDBSink(name, flaky)
    items = [item(n) for n in range(100)]
    assert sink.write(items, Retry(max_backoff=0.05, on_retry=retries.append)) == 100
    assert flaky.returned > 0 and len(retries) >= 6
    assert sorted(sink.items(), key=lambda i: i["id"]) == items


def test_dynamodb_unreachable_gives_up_only_at_the_deadline():
    from tests.helpers import free_port
    from twitter_sentiment.dynamodb_local import client

    sink = DynamoDBSink("results", client(f"http://127.0.0.1:{free_port()}"))
    retries = []
    retry = Retry(max_backoff=0.05, on_retry=retries.append)
    timer = threading.Timer(1.0, retry.deadline.set)
    timer.start()
    with pytest.raises(Aborted) as aborted:
        sink.write([item(1), item(2)], retry)
    assert retries  # retried until the deadline, not given up at the first failure
    assert len(aborted.value.pending) == 2 and not sink.check()[0]


def test_create_table_is_idempotent_and_sets_ttl(dynamodb_endpoint):
    from twitter_sentiment.dynamodb_local import client as make_client

    client = make_client(dynamodb_endpoint)
    assert create_table(client, "created-by-test", TTL_ATTRIBUTE) == "created"
    assert create_table(client, "created-by-test", TTL_ATTRIBUTE) == "exists"
    table = client.describe_table(TableName="created-by-test")["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = client.describe_time_to_live(TableName="created-by-test")["TimeToLiveDescription"]
    assert ttl["TimeToLiveStatus"] in ("ENABLED", "ENABLING") and ttl["AttributeName"] == TTL_ATTRIBUTE
    client.delete_table(TableName="created-by-test")


def test_create_table_command(dynamodb_endpoint, monkeypatch, capsys):
    from streamer.__main__ import main
    from twitter_sentiment.dynamodb_local import env

    for key, value in env(dynamodb_endpoint).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DYNAMODB_TABLE", "from-the-cli")
    assert main(["create-table"]) == 0
    assert "table from-the-cli: created" in capsys.readouterr().out


def test_pre_typed_batch_writes_send_what_botocore_would(dynamodb_sink):
    """The sink's items skip botocore's per-attribute serializer; the body says the same, and anything the
    sink does not build (other operations, other attribute types) still goes through botocore's."""
    import json

    from streamer.sinks import PreTypedBatchWrites

    serializer = dynamodb_sink.client._serializer
    assert isinstance(serializer, PreTypedBatchWrites)  # botocore 1.44's seam: client._serializer
    operation = dynamodb_sink.client.meta.service_model.operation_model("BatchWriteItem")
    ours = {"RequestItems": {"t": [{"PutRequest": {"Item": dynamodb_sink._wire(item(n))}} for n in range(25)]}}
    fast, botocore = (s.serialize_to_request(ours, operation) for s in (serializer, serializer.serializer))
    assert json.loads(fast.pop("body")) == json.loads(botocore.pop("body"))
    assert fast == botocore  # method, URL, headers (X-Amz-Target, Content-Type)
    other_types = {"RequestItems": {"t": [{"PutRequest": {"Item": {
        "id": {"S": "1"}, "on": {"BOOL": True}, "none": {"NULL": True}, "tags": {"SS": ["a", "b"]},
        "nested": {"M": {"n": {"N": "1"}, "l": {"L": [{"S": "x"}]}}}}}},
        {"DeleteRequest": {"Key": {"id": {"S": "2"}}}}]},
        "ReturnConsumedCapacity": "TOTAL"}
    fast, botocore = (s.serialize_to_request(other_types, operation) for s in (serializer, serializer.serializer))
    assert json.loads(fast.pop("body")) == json.loads(botocore.pop("body")) and fast == botocore
    binary = {"RequestItems": {"t": [{"PutRequest": {"Item": {"id": {"S": "1"}, "b": {"B": b"\x00"}}}}]}}
    assert serializer.serialize_to_request(binary, operation) == serializer.serializer.serialize_to_request(
        binary, operation)  # bytes need botocore's base64


def test_items_typed_by_the_sink_match_boto3s_type_serializer(dynamodb_sink):
    from boto3.dynamodb.types import TypeSerializer

    serialize = TypeSerializer().serialize
    for n, extra in enumerate([{}, {"score": Decimal("1E+2")}, {"score": None, "reason": "x: y"}, {"flag": True}]):
        expected = {key: serialize(value) for key, value in item(n, **extra).items() if value is not None}
        assert dynamodb_sink._wire(item(n, **extra)) == expected

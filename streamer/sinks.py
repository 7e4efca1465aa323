"""Result sinks: DynamoDB (production) and a SQLite file (the embedded default).

Both are keyed by tweet id and overwrite on a second write, so the at-least-once stream (reconnects,
backfill, a journal replayed after a crash, a replay run twice) leaves one item per tweet. Transient
failures are retried by the retry policy the pipeline hands down, until its shutdown deadline.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from decimal import Decimal

import orjson

from streamer.retry import Aborted, Retry

log = logging.getLogger(__name__)

ITEM_FIELDS = ("id", "user", "sentiment", "score", "twitter_raw", "twitter_clean", "date", "model_version", "reason")
BATCH_WRITE_LIMIT = 25  # DynamoDB's BatchWriteItem takes at most 25 put requests
BATCH_GET_LIMIT = 100
TTL_ATTRIBUTE = "expires_at"
# Errors no retry can fix: the items themselves are wrong, so they are written one by one instead.
_NOT_RETRYABLE = {"ValidationException", "SerializationException", "ItemCollectionSizeLimitExceededException",
                  "AccessDeniedException", "UnrecognizedClientException"}


class Incomplete(RuntimeError):
    """DynamoDB handed back part of a batch (UnprocessedItems or UnprocessedKeys): send the rest again."""


class _Unfit(RuntimeError):
    """DynamoDB refused the batch for what is in it: write its items one by one instead."""


def _dedupe(items: list[dict]) -> list[dict]:
    """One item per id, the last one winning: BatchWriteItem refuses duplicate keys in a request."""
    return list({item["id"]: item for item in items}.values())


def unstored(items: list[dict], why: str) -> None:
    """No sink took these items: name them (ids only: tweet text never goes to a log); the journal keeps them."""
    ids = [str(item.get("id")) for item in items]
    log.error("could not store %d items (%s); they stay in the journal, if one is set: %s", len(items), why,
              " ".join(ids[:100]) + (" ..." if len(ids) > 100 else ""))


class PreTypedBatchWrites:
    """botocore's JSON serializer, except that a BatchWriteItem's parameters, already DynamoDB JSON (what
    DynamoDBSink builds), are written as they are (orjson): botocore walks the service model for every
    attribute value, which was 16 % of the streamer's CPU a tweet. Its only other transformation in this
    operation is base64 for binary values; orjson refuses bytes (and Decimal, datetime, a lone surrogate),
    so those requests still go through botocore's serializer.

    Installed as the client's `_serializer` (botocore 1.44, client.py `_convert_to_request_dict`); the request
    is the one botocore would make (tests/streamer/test_sinks.py compares them). Parameter validation, if the
    client has it on, is skipped for these requests only.
    """

    PLAIN_JSON = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS

    def __init__(self, serializer):
        self.serializer = serializer

    def serialize_to_request(self, parameters: dict, operation_model) -> dict:
        if operation_model.name == "BatchWriteItem":
            with contextlib.suppress(orjson.JSONEncodeError):
                return _json_request(orjson.dumps(parameters, option=self.PLAIN_JSON), operation_model)
        return self.serializer.serialize_to_request(parameters, operation_model)

    def __getattr__(self, name: str):
        return getattr(self.serializer, name)

    @classmethod
    def install(cls, client) -> None:
        """On a botocore DynamoDB client (not on a stand-in that wraps one); once."""
        from botocore.client import BaseClient

        current = getattr(client, "_serializer", None)
        if isinstance(client, BaseClient) and current is not None and not isinstance(current, cls):
            client._serializer = cls(current)


def _json_request(body: bytes, operation_model) -> dict:
    """The request botocore's JSONSerializer makes for DynamoDB (botocore/serialize.py), with this body."""
    metadata = operation_model.metadata
    return {"url_path": "/", "query_string": "", "method": operation_model.http.get("method", "POST"),
            "headers": {"X-Amz-Target": f"{metadata['targetPrefix']}.{operation_model.name}",
                        "Content-Type": f"application/x-amz-json-{metadata['jsonVersion']}"},
            "body": body}


def dynamodb_client():
    """A DynamoDB client; `AWS_ENDPOINT_URL_DYNAMODB` (DynamoDB Local) is read by boto3 itself."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "dynamodb", region_name=os.environ.get("AWS_REGION") or None,
        config=Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=2, read_timeout=5,
                      parameter_validation=False,  # we build every item ourselves; it costs a quarter of the CPU
                      max_pool_connections=32))


def create_table(client, table: str, ttl_attribute: str | None = None) -> str:
    """Create the results table (on-demand billing, partition key `id`); a no-op if it exists."""
    from botocore.exceptions import ClientError

    try:
        client.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
        outcome = "created"
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "ResourceInUseException":
            raise
        outcome = "exists"
    client.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    if ttl_attribute:
        try:
            client.update_time_to_live(TableName=table, TimeToLiveSpecification={
                "Enabled": True, "AttributeName": ttl_attribute})
        except ClientError as error:  # enabling it twice is refused: it is on already
            if "already enabled" not in str(error).lower():
                raise
    return outcome


class DynamoDBSink:
    name = "dynamodb"

    def __init__(self, table: str, client=None, *, ttl_days: float | None = None):
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.table = table
        self.ttl_seconds = int(ttl_days * 86400) if ttl_days else 0
        self.client = client or dynamodb_client()
        PreTypedBatchWrites.install(self.client)
        self._serialize = TypeSerializer().serialize
        self._deserialize = TypeDeserializer().deserialize

    def _attribute(self, value) -> dict:
        """DynamoDB JSON for a value: strings and Decimals (every item attribute but none) typed here,
        anything else by boto3's TypeSerializer, which is several times slower."""
        kind = type(value)
        if kind is str:
            return {"S": value}
        if kind is Decimal and value.is_finite():
            return {"N": str(value)}
        return self._serialize(value)

    def _wire(self, item: dict) -> dict:
        wire = {key: self._attribute(value) for key, value in item.items() if value is not None}
        if self.ttl_seconds:
            wire[TTL_ATTRIBUTE] = {"N": str(int(time.time()) + self.ttl_seconds)}
        return wire

    def _item(self, wire: dict) -> dict:
        return {key: self._deserialize(value) for key, value in wire.items()}

    def write(self, items: list[dict], retry: Retry | None = None) -> int:
        """Store every item (overwriting); returns how many of `items` are stored (all, unless DynamoDB
        refused an item outright). Raises Aborted at `retry`'s shutdown deadline."""
        retry = retry or Retry()
        chunks = _chunks(_dedupe(items), BATCH_WRITE_LIMIT)
        return len(items) - sum(len(chunk) - self._write_chunk(chunk, retry) for chunk in chunks)

    def _write_chunk(self, chunk: list[dict], retry: Retry) -> int:
        pending = [{"PutRequest": {"Item": self._wire(item)}} for item in chunk]
        try:
            self._put(pending, retry)
        except _Unfit as error:
            log.warning("DynamoDB refused a batch (%s): writing its items one by one", error)
            return self._write_one_by_one(chunk)
        except Aborted as error:
            ids = {request["PutRequest"]["Item"]["id"]["S"] for request in pending}
            raise Aborted(f"{len(ids)} items not stored at the shutdown deadline ({error})",
                          [item for item in chunk if item["id"] in ids], len(chunk) - len(ids)) from error
        return len(chunk)

    def _put(self, pending: list[dict], retry: Retry, **options) -> None:
        """BatchWriteItem until nothing is left unprocessed; `pending` keeps what is left when it gives up."""
        from botocore.exceptions import BotoCoreError, ClientError

        def send() -> None:
            pending[:] = self._batch_write(pending)
            if pending:
                raise Incomplete(f"{len(pending)} unprocessed items")

        retry.call("sink", send, errors=(ClientError, BotoCoreError, Incomplete), **options)

    def _batch_write(self, requests: list[dict]) -> list[dict]:
        """One BatchWriteItem; returns what DynamoDB handed back unprocessed."""
        from botocore.exceptions import ClientError, ParamValidationError

        try:
            response = self.client.batch_write_item(RequestItems={self.table: requests})
        except ParamValidationError as error:
            raise _Unfit(str(error)) from error
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _NOT_RETRYABLE:
                raise _Unfit(str(error)) from error
            raise
        return response.get("UnprocessedItems", {}).get(self.table, [])

    def _write_one_by_one(self, chunk: list[dict]) -> int:
        from botocore.exceptions import ClientError, ParamValidationError

        stored = 0
        for item in chunk:
            try:
                self.client.put_item(TableName=self.table, Item=self._wire(item))
                stored += 1
            except (ClientError, ParamValidationError) as error:
                unstored([item], f"DynamoDB refused it: {error}")
        return stored

    def write_absent(self, items: list[dict]) -> int:
        """Store the items whose id is not stored yet (a shutdown spill must not overwrite a result).

        Runs after the deadline: a few quick tries. Raises if DynamoDB does not take them.
        """
        for part in _chunks(_dedupe(items), BATCH_GET_LIMIT):
            self._write_part_absent(part)
        return len(items)

    def _write_part_absent(self, part: list[dict]) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        quick = Retry(max_backoff=0.5)
        keys, found = [{"id": {"S": item["id"]}} for item in part], set()

        def read() -> None:
            nonlocal keys
            response = self.client.batch_get_item(RequestItems={self.table: {
                "Keys": keys, "ProjectionExpression": "#id", "ExpressionAttributeNames": {"#id": "id"}}})
            found.update(row["id"]["S"] for row in response.get("Responses", {}).get(self.table, []))
            keys = response.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
            if keys:
                raise Incomplete(f"{len(keys)} keys not read back")

        quick.call("sink", read, errors=(ClientError, BotoCoreError, Incomplete), attempts=5)
        for chunk in _chunks([item for item in part if item["id"] not in found], BATCH_WRITE_LIMIT):
            self._put([{"PutRequest": {"Item": self._wire(item)}} for item in chunk], quick, attempts=5)

    def check(self) -> tuple[bool, str]:
        try:
            status = self.client.describe_table(TableName=self.table)["Table"]["TableStatus"]
        except Exception as error:  # noqa: BLE001  (any failure means "not reachable" here)
            return False, f"table {self.table}: {type(error).__name__}: {error}"
        return status in ("ACTIVE", "UPDATING"), f"table {self.table}: {status}"

    def items(self) -> list[dict]:
        """Every stored item (a scan): for tests, the demo and checks, not for the hot path."""
        rows = []
        for page in self.client.get_paginator("scan").paginate(TableName=self.table):
            rows += [self._item(row) for row in page.get("Items", [])]
        return rows

    def close(self) -> None:
        self.client.close()


_COLUMNS = ", ".join(ITEM_FIELDS)
_SCHEMA = """CREATE TABLE IF NOT EXISTS results (
    id TEXT PRIMARY KEY, user TEXT NOT NULL, sentiment TEXT NOT NULL, score REAL,
    twitter_raw TEXT NOT NULL, twitter_clean TEXT NOT NULL, date TEXT NOT NULL,
    model_version TEXT NOT NULL, reason TEXT)"""
# Column names are our constants; values always go through placeholders.
_UPSERT = (f"INSERT INTO results ({_COLUMNS}) VALUES ({', '.join('?' * len(ITEM_FIELDS))}) "  # nosec B608
           "ON CONFLICT(id) DO UPDATE SET " + ", ".join(f"{f} = excluded.{f}" for f in ITEM_FIELDS[1:]))
_INSERT_ABSENT = f"INSERT OR IGNORE INTO results ({_COLUMNS}) VALUES ({', '.join('?' * len(ITEM_FIELDS))})"


class SQLiteSink:
    name = "sqlite"

    def __init__(self, path: str):
        self.path = path
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        # One connection shared by the workers, serialised by a lock: SQLite has one writer anyway.
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=10)
        self._lock = threading.Lock()
        with self._lock, self._db:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)

    @staticmethod
    def _row(item: dict) -> tuple:
        score = item.get("score")
        return tuple(float(score) if key == "score" and score is not None else item.get(key) for key in ITEM_FIELDS)

    def _execute(self, statement: str, items: list[dict], retry: Retry, attempts: int | None = None) -> None:
        rows = [self._row(item) for item in _dedupe(items)]

        def execute() -> None:
            with self._lock, self._db:
                self._db.executemany(statement, rows)

        try:  # locked by another process, disk trouble
            retry.call("sink", execute, errors=sqlite3.OperationalError, attempts=attempts)
        except Aborted as error:
            raise Aborted(f"SQLite unavailable at the shutdown deadline: {error}", items, 0) from error

    def write(self, items: list[dict], retry: Retry | None = None) -> int:
        self._execute(_UPSERT, items, retry or Retry())
        return len(items)

    def write_absent(self, items: list[dict]) -> int:
        self._execute(_INSERT_ABSENT, items, Retry(max_backoff=0.5), attempts=5)  # after the deadline: quick tries
        return len(items)

    def check(self) -> tuple[bool, str]:
        try:
            with self._lock:
                self._db.execute("SELECT 1 FROM results LIMIT 1").fetchall()
        except sqlite3.Error as error:
            return False, f"{self.path}: {error}"
        return True, self.path

    def items(self) -> list[dict]:
        with self._lock:
            rows = self._db.execute(f"SELECT {_COLUMNS} FROM results").fetchall()  # nosec B608: constant columns
        items = []
        for row in rows:
            item = {key: value for key, value in zip(ITEM_FIELDS, row) if value is not None}
            if "score" in item:
                item["score"] = Decimal(repr(item["score"]))
            items.append(item)
        return items

    def close(self) -> None:
        with self._lock:
            self._db.close()


def open_sink(settings, *, ttl_days: float | None = None):
    if settings.sink == "dynamodb":
        return DynamoDBSink(settings.dynamodb_table, ttl_days=ttl_days)
    return SQLiteSink(settings.sqlite_path)


def _chunks(items: list, size: int) -> list[list]:
    return [items[start:start + size] for start in range(0, len(items), size)]

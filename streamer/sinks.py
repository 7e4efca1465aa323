"""Result sinks: DynamoDB (production) and a SQLite file (the embedded default).

Both are keyed by tweet id and overwrite on a second write, so the at-least-once stream (reconnects,
backfill, a replay run twice) leaves one item per tweet. Transient failures are retried with
exponential backoff and jitter until they succeed or the service reaches its shutdown deadline.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from decimal import Decimal

from streamer.scorer import Aborted

log = logging.getLogger(__name__)

ITEM_FIELDS = ("id", "user", "sentiment", "score", "twitter_raw", "twitter_clean", "date", "model_version", "reason")
BATCH_WRITE_LIMIT = 25  # DynamoDB's BatchWriteItem takes at most 25 put requests
BATCH_GET_LIMIT = 100
TTL_ATTRIBUTE = "expires_at"
# Errors no retry can fix: the items themselves are wrong, so they are written one by one instead.
_NOT_RETRYABLE = {"ValidationException", "SerializationException", "ItemCollectionSizeLimitExceededException",
                  "AccessDeniedException", "UnrecognizedClientException"}


def _backoff(attempt: int, maximum: float) -> float:
    """Full jitter: a random wait up to 0.05 s * 2^attempt, capped."""
    return random.uniform(0, min(maximum, 0.05 * 2 ** min(attempt, 20)))


def _dedupe(items: list[dict]) -> list[dict]:
    """One item per id, the last one winning: BatchWriteItem refuses duplicate keys in a request."""
    return list({item["id"]: item for item in items}.values())


def unstored(items: list[dict], why: str) -> None:
    """Last resort when no sink takes an item: the log keeps it, whole, so it is never silently lost."""
    for item in items:
        log.error("could not store item (%s): %s", why, json.dumps(item, default=str, ensure_ascii=False))


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

    def __init__(self, table: str, client=None, *, abort: threading.Event | None = None,
                 on_retry: Callable[[str], None] = lambda target: None, max_backoff: float = 5.0,
                 ttl_days: float | None = None):
        from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

        self.table = table
        self.ttl_seconds = int(ttl_days * 86400) if ttl_days else 0
        self.client = client or dynamodb_client()
        self.abort = abort or threading.Event()
        self.on_retry = on_retry
        self.max_backoff = max_backoff
        self._serialize = TypeSerializer().serialize
        self._deserialize = TypeDeserializer().deserialize

    def _wire(self, item: dict) -> dict:
        wire = {key: self._serialize(value) for key, value in item.items() if value is not None}
        if self.ttl_seconds:
            wire[TTL_ATTRIBUTE] = {"N": str(int(time.time()) + self.ttl_seconds)}
        return wire

    def _item(self, wire: dict) -> dict:
        return {key: self._deserialize(value) for key, value in wire.items()}

    def write(self, items: list[dict]) -> int:
        """Store every item (overwriting); returns how many of `items` are stored (all, unless DynamoDB
        refused an item outright: that one is logged in full). Raises Aborted at the shutdown deadline."""
        unique = _dedupe(items)
        refused = 0
        for start in range(0, len(unique), BATCH_WRITE_LIMIT):
            chunk = unique[start:start + BATCH_WRITE_LIMIT]
            refused += len(chunk) - self._write_chunk(chunk)
        return len(items) - refused

    def _write_chunk(self, chunk: list[dict]) -> int:
        from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

        pending = [{"PutRequest": {"Item": self._wire(item)}} for item in chunk]
        attempt = 0
        while pending:
            try:
                response = self.client.batch_write_item(RequestItems={self.table: pending})
                pending = response.get("UnprocessedItems", {}).get(self.table, [])
                why = f"{len(pending)} unprocessed items"
            except ParamValidationError:
                return self._write_one_by_one(chunk)
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in _NOT_RETRYABLE:
                    log.warning("DynamoDB refused a batch (%s): writing its items one by one", error)
                    return self._write_one_by_one(chunk)
                why = str(error)
            except BotoCoreError as error:  # connection refused, timeouts
                why = f"{type(error).__name__}: {error}"
            if not pending:
                break
            self.on_retry("sink")
            attempt += 1
            if attempt == 1 or attempt % 10 == 0:
                log.warning("DynamoDB write incomplete (attempt %d): %s", attempt, why)
            self.abort.wait(_backoff(attempt, self.max_backoff))
            if self.abort.is_set():
                ids = {request["PutRequest"]["Item"]["id"]["S"] for request in pending}
                stored = len(chunk) - len(ids)
                raise Aborted(f"{len(ids)} items not stored at the shutdown deadline",
                              [item for item in chunk if item["id"] in ids], stored)
        return len(chunk)

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

        A few quick tries, no long backoff: it runs after the deadline. Raises if DynamoDB does not take them.
        """
        unique = _dedupe(items)
        fresh = []
        for start in range(0, len(unique), BATCH_GET_LIMIT):
            part = unique[start:start + BATCH_GET_LIMIT]
            keys = [{"id": {"S": item["id"]}} for item in part]
            found = set()
            for _ in range(5):
                response = self.client.batch_get_item(RequestItems={self.table: {
                    "Keys": keys, "ProjectionExpression": "#id", "ExpressionAttributeNames": {"#id": "id"}}})
                found |= {row["id"]["S"] for row in response.get("Responses", {}).get(self.table, [])}
                keys = response.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
                if not keys:
                    break
            if keys:
                raise RuntimeError(f"could not read {len(keys)} keys back")
            fresh += [item for item in part if item["id"] not in found]
        for start in range(0, len(fresh), BATCH_WRITE_LIMIT):
            pending = [{"PutRequest": {"Item": self._wire(item)}} for item in fresh[start:start + BATCH_WRITE_LIMIT]]
            for attempt in range(5):
                response = self.client.batch_write_item(RequestItems={self.table: pending})
                pending = response.get("UnprocessedItems", {}).get(self.table, [])
                if not pending:
                    break
                time.sleep(_backoff(attempt, 0.5))
            if pending:
                raise RuntimeError(f"{len(pending)} items still unprocessed")
        return len(items)

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

    def __init__(self, path: str, *, abort: threading.Event | None = None,
                 on_retry: Callable[[str], None] = lambda target: None, max_backoff: float = 5.0):
        self.path = path
        self.abort = abort or threading.Event()
        self.on_retry = on_retry
        self.max_backoff = max_backoff
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

    def _execute(self, statement: str, items: list[dict]) -> None:
        rows = [self._row(item) for item in _dedupe(items)]
        attempt = 0
        while True:
            try:
                with self._lock, self._db:
                    self._db.executemany(statement, rows)
                return
            except sqlite3.OperationalError as error:  # locked by another process, disk trouble
                self.on_retry("sink")
                attempt += 1
                if attempt == 1 or attempt % 10 == 0:
                    log.warning("SQLite write failed (attempt %d): %s", attempt, error)
                self.abort.wait(_backoff(attempt, self.max_backoff))
                if self.abort.is_set():
                    raise Aborted(f"SQLite unavailable at the shutdown deadline: {error}", items, 0) from error

    def write(self, items: list[dict]) -> int:
        self._execute(_UPSERT, items)
        return len(items)

    def write_absent(self, items: list[dict]) -> int:
        self._execute(_INSERT_ABSENT, items)
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


def open_sink(settings, *, abort=None, on_retry=lambda target: None, ttl_days: float | None = None):
    if settings.sink == "dynamodb":
        return DynamoDBSink(settings.dynamodb_table, abort=abort, on_retry=on_retry, ttl_days=ttl_days)
    return SQLiteSink(settings.sqlite_path, abort=abort, on_retry=on_retry)

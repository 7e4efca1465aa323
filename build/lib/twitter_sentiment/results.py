"""Reading a time window of the streamer's stored results, from DynamoDB or the local SQLite file.

`results_uri` is `dynamodb://<table>` (the endpoint and region as boto3 finds them, e.g.
`AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB Local) or `sqlite:///<path>`. The window is on the tweet's
`date` (ISO 8601, UTC), start included and end excluded; both are compared as text, which orders
ISO 8601 UTC times correctly.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from twitter_sentiment.storage import StorageError

FIELDS = ("id", "sentiment", "score", "twitter_clean", "date", "model_version", "reason")  # what the monitor reads
SQLITE_TABLE = "results"  # the streamer's SQLite sink writes this table


def window(hours: float, end: str = "") -> tuple[str, str]:
    """(start, end) as `YYYY-MM-DDTHH:MM:SS`, `hours` before `end` (default: now, UTC)."""
    if hours <= 0:
        raise ValueError(f"the window must be positive hours, not {hours}")
    try:
        stop = datetime.fromisoformat(end.replace("Z", "+00:00")) if end else datetime.now(UTC)
    except ValueError:
        raise ValueError(f"window end {end!r} is not an ISO 8601 time") from None
    stop = stop.astimezone(UTC) if stop.tzinfo else stop
    form = "%Y-%m-%dT%H:%M:%S"
    return (stop - timedelta(hours=hours)).strftime(form), stop.strftime(form)


def read_window(results_uri: str, start: str, end: str) -> list[dict]:
    """Stored results whose `date` is in [start, end)."""
    if results_uri.startswith("dynamodb://"):
        return _dynamodb(results_uri.removeprefix("dynamodb://"), start, end)
    if results_uri.startswith("sqlite://"):
        return _sqlite(results_uri.removeprefix("sqlite://"), start, end)
    raise ValueError(f"results_uri {results_uri!r}: expected dynamodb://TABLE or sqlite:///PATH")


def _dynamodb(table: str, start: str, end: str) -> list[dict]:
    import boto3
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    names = {f"#{field}": field for field in FIELDS}  # `date` is a reserved word
    rows = []
    try:
        client = boto3.session.Session().client("dynamodb")  # no region set fails here, and is said below
        # A scan with a filter: the table's key is the tweet id, and a TTL keeps it to recent days.
        for page in client.get_paginator("scan").paginate(
                TableName=table, ProjectionExpression=", ".join(names), ExpressionAttributeNames=names,
                FilterExpression="#date >= :start AND #date < :end",
                ExpressionAttributeValues={":start": {"S": start}, ":end": {"S": end}}):
            rows += [{key: deserialize(value) for key, value in item.items()} for item in page.get("Items", [])]
    except Exception as error:  # botocore raises several unrelated types
        raise StorageError(f"cannot read results from DynamoDB table {table}: {error}") from error
    client.close()
    return rows


def _sqlite(path: str, start: str, end: str) -> list[dict]:
    if not Path(path).is_file():
        raise StorageError(f"results file {path} does not exist")
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(f"SELECT {', '.join(FIELDS)} FROM {SQLITE_TABLE} "  # nosec B608: constant names
                              "WHERE date >= ? AND date < ?", (start, end)).fetchall()
    except sqlite3.Error as error:
        raise StorageError(f"cannot read results from {path}: {error}") from error
    return [{key: row[key] for key in FIELDS if row[key] is not None} for row in rows]

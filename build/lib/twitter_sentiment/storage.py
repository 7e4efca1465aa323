"""Reading and writing objects by URI: `s3://bucket/key` through boto3, or a local path.

boto3 finds credentials and `AWS_ENDPOINT_URL_S3` (MinIO, moto) itself. Every failure is a
`StorageError` whose message names the URI.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from urllib.parse import urlparse


class StorageError(RuntimeError):
    """An object could not be read or written; the message says which and why."""


def is_s3(uri: str) -> bool:
    return uri.startswith("s3://")


def split_s3(uri: str) -> tuple[str, str]:
    """`s3://bucket/a/b` -> ("bucket", "a/b")."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise StorageError(f"{uri!r} is not an s3://bucket/key URI")
    return parsed.netloc, parsed.path.lstrip("/")


@functools.lru_cache(maxsize=1)
def s3_client():
    import boto3
    from botocore.config import Config

    # Standard retry mode backs off on throttling and 5xx; connection errors are retried too.
    return boto3.client("s3", config=Config(retries={"max_attempts": 5, "mode": "standard"}))


def describe_s3_error(uri: str, error: Exception) -> StorageError:
    """Turn a boto3/botocore exception into one sentence that names the URI."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

    if isinstance(error, NoCredentialsError):
        return StorageError(f"no AWS credentials to read {uri}: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
    if isinstance(error, EndpointConnectionError):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3")
        where = f"AWS_ENDPOINT_URL_S3={endpoint!r}" if endpoint else "S3 (AWS_REGION, the network)"
        return StorageError(f"cannot reach the S3 endpoint for {uri}: check {where}: {error}")
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("NoSuchKey", "404", "NotFound"):
            return StorageError(f"{uri} does not exist")
        if code == "NoSuchBucket":
            return StorageError(f"the bucket of {uri} does not exist")
        if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
            return StorageError(f"access to {uri} denied ({code}): check the AWS credentials")
        return StorageError(f"S3 refused {uri}: {code} {error}")
    return StorageError(f"cannot access {uri}: {error}")


def read_bytes(uri: str) -> bytes:
    """The whole object at `uri` (S3 or local path)."""
    if is_s3(uri):
        bucket, key = split_s3(uri)
        try:
            return s3_client().get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as error:  # botocore raises several unrelated types
            raise describe_s3_error(uri, error) from error
    path = Path(uri).expanduser()
    if not path.is_file():
        raise StorageError(f"{uri} does not exist")
    return path.read_bytes()

"""Find and load the bundle that `STORAGE_URI` names, once, at start.

`STORAGE_URI` is one of:
- a local bundle directory (KServe's storage initializer copies the files into `/mnt/models`);
- a local model store (a directory with `LATEST`): the version LATEST names is loaded;
- `s3://bucket/.../<version>/`: a prefix holding the bundle files;
- `s3://bucket/models/twitter-sentiment`: a model store root, LATEST followed.
Whatever goes wrong raises BundleError or StorageError with one sentence naming the URI.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from twitter_sentiment.bundle import METADATA_FILE, BundleError, SentimentModel
from twitter_sentiment.storage import describe_s3_error, is_s3, s3_client, split_s3
from twitter_sentiment.store import LATEST, ModelStore

log = logging.getLogger(__name__)


def _s3_object_exists(uri: str) -> bool:
    bucket, key = split_s3(uri)
    try:
        listing = s3_client().list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    except Exception as error:  # botocore raises several unrelated types
        raise describe_s3_error(uri, error) from error
    return any(item["Key"] == key for item in listing.get("Contents", []))


def _fetch(storage_uri: str, destination: Path) -> Path:
    """Copy the bundle that `storage_uri` (s3:// or a local model store) names into `destination`."""
    uri = storage_uri.rstrip("/")
    if is_s3(uri) and _s3_object_exists(f"{uri}/{METADATA_FILE}"):
        root, _, version = uri.rpartition("/")
        if root == "s3:/":  # s3://bucket itself holds the bundle files
            raise BundleError(f"{storage_uri}: put the bundle under a version prefix, s3://bucket/<version>/")
        return ModelStore(root).fetch(destination, version)
    return ModelStore(uri).fetch(destination)  # a store root: LATEST is followed


def load_model(storage_uri: str) -> SentimentModel:
    """The model that `storage_uri` names, verified and loaded (see the module docstring)."""
    if is_s3(storage_uri):
        with tempfile.TemporaryDirectory(prefix="twitter-sentiment-bundle-") as directory:
            return SentimentModel.load(_fetch(storage_uri, Path(directory)))
    path = Path(storage_uri).expanduser()
    if not path.is_dir():
        raise BundleError(f"STORAGE_URI {storage_uri}: no such directory")
    if (path / METADATA_FILE).is_file():
        return SentimentModel.load(path)
    if (path / LATEST).is_file():
        with tempfile.TemporaryDirectory(prefix="twitter-sentiment-bundle-") as directory:
            return SentimentModel.load(_fetch(str(path), Path(directory)))
    raise BundleError(f"STORAGE_URI {storage_uri} holds neither a model bundle ({METADATA_FILE}) "
                      f"nor a model store ({LATEST})")

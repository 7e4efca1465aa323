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

from twitter_sentiment.bundle import METADATA_FILE, SentimentModel
from twitter_sentiment.storage import is_s3
from twitter_sentiment.store import locate

log = logging.getLogger(__name__)


def load_model(storage_uri: str, fold_recurrent: bool = True) -> SentimentModel:
    """The model that `storage_uri` names, verified and loaded (see the module docstring)."""
    path = Path(storage_uri).expanduser()
    if not is_s3(storage_uri) and (path / METADATA_FILE).is_file():
        return SentimentModel.load(path, fold_recurrent)  # a bundle directory is loaded where it is
    store, version = locate(storage_uri)  # the store resolves LATEST
    with tempfile.TemporaryDirectory(prefix="twitter-sentiment-bundle-") as directory:
        return SentimentModel.load(store.fetch(directory, version), fold_recurrent)

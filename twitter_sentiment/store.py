"""The model store: published bundle versions under one root, local or S3.

Layout: `<root>/<version>/{model.keras,vocabulary.json,metadata.json}` and `<root>/LATEST`.
Publishing writes every file of the version first and `LATEST` last, so a reader following
`LATEST` never sees half a model; a version that exists is never overwritten.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from twitter_sentiment.bundle import METADATA_FILE, PAYLOAD_FILES, BundleError, verify_bundle
from twitter_sentiment.storage import StorageError, describe_s3_error, is_s3, s3_client, split_s3

log = logging.getLogger(__name__)

LATEST = "LATEST"
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
# metadata.json goes last within a version: a version directory without it is not a bundle.
PUBLISH_ORDER = (*PAYLOAD_FILES, METADATA_FILE)


def new_version(fingerprint: str = "", now: datetime | None = None) -> str:
    """`20261130T021500Z-ab12cd`: sorts by time, and names the data it was trained on."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{fingerprint[:6]}" if fingerprint else stamp


class VersionExists(StorageError):
    """Publishing would overwrite an existing version."""


class ModelStore:
    def __init__(self, uri: str):
        self.uri = uri.rstrip("/")
        self._s3 = is_s3(uri)
        if self._s3:
            self._bucket, self._prefix = split_s3(self.uri)
        else:
            self._root = Path(uri).expanduser()

    def __repr__(self) -> str:
        return f"ModelStore({self.uri!r})"

    def version_uri(self, version: str) -> str:
        return f"{self.uri}/{version}/"

    # --- primitives -------------------------------------------------------------------------
    def _key(self, *parts: str) -> str:
        return "/".join(p for p in (self._prefix, *parts) if p)

    def _s3_call(self, uri: str, call, **kwargs):
        try:
            return call(**kwargs)
        except Exception as error:
            raise describe_s3_error(uri, error) from error

    def _exists(self, version: str) -> bool:
        if self._s3:
            listing = self._s3_call(self.version_uri(version), s3_client().list_objects_v2,
                                    Bucket=self._bucket, Prefix=self._key(version) + "/", MaxKeys=1)
            return listing.get("KeyCount", 0) > 0
        return (self._root / version).exists()

    # --- reading ----------------------------------------------------------------------------
    def latest(self) -> str | None:
        """The current version, or None if nothing was published yet."""
        if self._s3:
            from botocore.exceptions import ClientError

            try:
                body = s3_client().get_object(Bucket=self._bucket, Key=self._key(LATEST))["Body"].read()
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise describe_s3_error(f"{self.uri}/{LATEST}", error) from error
            except Exception as error:
                raise describe_s3_error(f"{self.uri}/{LATEST}", error) from error
            return body.decode("utf-8").strip() or None
        path = self._root / LATEST
        return path.read_text(encoding="utf-8").strip() or None if path.is_file() else None

    def versions(self) -> list[str]:
        if self._s3:
            paginator = s3_client().get_paginator("list_objects_v2")
            found = []
            try:
                for page in paginator.paginate(Bucket=self._bucket, Prefix=self._key() + "/" if self._prefix else "",
                                               Delimiter="/"):
                    found += [p["Prefix"].rstrip("/").rsplit("/", 1)[-1] for p in page.get("CommonPrefixes", [])]
            except Exception as error:
                raise describe_s3_error(self.uri, error) from error
            return sorted(found)
        if not self._root.is_dir():
            return []
        return sorted(p.name for p in self._root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def fetch(self, destination: str | Path, version: str | None = None) -> Path:
        """Copy a version (default: LATEST) into `destination` and verify it; returns the directory."""
        version = version or self.latest()
        if version is None:
            raise BundleError(f"{self.uri} has no {LATEST}: nothing was published there")
        if not self._exists(version):
            raise BundleError(f"{self.uri}/{LATEST} names version {version!r}, which does not exist")
        destination = Path(destination)
        destination.mkdir(parents=True, exist_ok=True)
        for name in PUBLISH_ORDER:
            if self._s3:
                uri = f"{self.version_uri(version)}{name}"
                try:
                    s3_client().download_file(self._bucket, self._key(version, name), str(destination / name))
                except Exception as error:
                    raise BundleError(f"{uri}: {describe_s3_error(uri, error)}") from error
            else:
                source = self._root / version / name
                if not source.is_file():
                    raise BundleError(f"{source} is missing")
                shutil.copyfile(source, destination / name)
        verify_bundle(destination)
        return destination

    # --- publishing -------------------------------------------------------------------------
    def publish(self, bundle_dir: str | Path, version: str) -> str:
        """Publish a verified bundle as `version`, then point LATEST at it. Returns the version URI."""
        if not _VERSION.match(version) or version == LATEST:
            raise ValueError(f"{version!r} is not a valid version name")
        verify_bundle(bundle_dir)
        if self._exists(version):
            raise VersionExists(f"{self.version_uri(version)} already exists: a published version is never overwritten")
        bundle_dir = Path(bundle_dir)
        if self._s3:
            for name in PUBLISH_ORDER:
                uri = self.version_uri(version) + name
                self._s3_call(uri, s3_client().upload_file, Filename=str(bundle_dir / name), Bucket=self._bucket,
                              Key=self._key(version, name))
            self._s3_call(f"{self.uri}/{LATEST}", s3_client().put_object, Bucket=self._bucket,
                          Key=self._key(LATEST), Body=version.encode("utf-8"), ContentType="text/plain")
        else:
            self._root.mkdir(parents=True, exist_ok=True)
            # Copy beside the target, then rename: the version appears whole or not at all.
            staging = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=self._root))
            try:
                for name in PUBLISH_ORDER:
                    shutil.copyfile(bundle_dir / name, staging / name)
                staging.chmod(0o755)  # mkdtemp makes it 0700; readers may be other users (the serving pod)
                os.rename(staging, self._root / version)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            latest_tmp = self._root / f".{LATEST}.partial"
            latest_tmp.write_text(version + "\n", encoding="utf-8")
            latest_tmp.replace(self._root / LATEST)
        log.info("published %s and pointed %s/%s at it", self.version_uri(version), self.uri, LATEST)
        return self.version_uri(version)

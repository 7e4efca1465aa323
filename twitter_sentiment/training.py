"""The training steps as plain functions over files: each KFP component calls one of these."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from twitter_sentiment import __version__, dataset, evaluation
from twitter_sentiment.bundle import SentimentModel, Thresholds, update_metadata, write_bundle
from twitter_sentiment.classifier import ClassifierParams
from twitter_sentiment.embeddings import Word2VecParams
from twitter_sentiment.store import ModelStore, new_version
from twitter_sentiment.text import tokens

log = logging.getLogger(__name__)


def fetch(uri: str, output_path: str, sample_rows: int = 0, seed: int = 42) -> dataset.DatasetReport:
    frame, report = dataset.read_dataset(uri)
    frame = dataset.subsample(frame, sample_rows, seed)
    dataset.save(frame, output_path)
    log.info("read %d rows (%s, %d skipped) from %s; kept %d", report.rows, report.format, report.skipped, uri,
             len(frame))
    return report


def preprocess(raw_path: str, train_path: str, validation_path: str, test_path: str,
               validation: float = 0.1, test: float = 0.1, seed: int = 42) -> dict:
    prepared, dropped = dataset.prepare(dataset.load(raw_path))
    train, val, test_part = dataset.split(prepared, validation, test, seed)
    for frame, path in ((train, train_path), (val, validation_path), (test_part, test_path)):
        dataset.save(frame, path)
    stats = {"train": len(train), "validation": len(val), "test": len(test_part),
             "positive_share": round(float(prepared["label"].mean()), 4),
             **{f"dropped_{k}": v for k, v in dropped.items()}}
    log.info("preprocessed: %s", stats)
    return stats


def word2vec(train_path: str, vectors_path: str, params: Word2VecParams) -> int:
    from twitter_sentiment.embeddings import save_vectors, train_word2vec

    vectors = train_word2vec([tokens(t) for t in dataset.load(train_path)["clean"]], params)
    save_vectors(vectors, vectors_path)
    return len(vectors.index_to_key)


def _xy(path: str, vocabulary, sequence_length: int) -> tuple[np.ndarray, np.ndarray]:
    frame = dataset.load(path)
    return vocabulary.ids(frame["clean"].tolist(), sequence_length), frame["label"].to_numpy(np.float32)


def classifier(train_path: str, validation_path: str, vectors_path: str, bundle_dir: str,
               params: ClassifierParams, max_words: int = 0, thresholds: Thresholds = Thresholds(),
               metadata: dict | None = None) -> dict:
    """Train the classifier from the Word2vec vectors and write an (unpublished) bundle."""
    from twitter_sentiment import classifier as keras_classifier
    from twitter_sentiment import lexicon
    from twitter_sentiment.embeddings import load_vectors, vocabulary_and_matrix

    valences = lexicon.valences() if params.lexicon_weight > 0 else None
    vocabulary, matrix = vocabulary_and_matrix(load_vectors(vectors_path), max_words, valences,
                                               params.lexicon_weight)
    x_train, y_train = _xy(train_path, vocabulary, params.sequence_length)
    x_val, y_val = _xy(validation_path, vocabulary, params.sequence_length)
    model = keras_classifier.build(matrix, params)
    summary = keras_classifier.train(model, x_train, y_train, x_val, y_val, params)
    write_bundle(bundle_dir, model, vocabulary, {
        **(metadata or {}),
        "sequence_length": params.sequence_length,
        "thresholds": {"negative_max": thresholds.negative_max, "positive_min": thresholds.positive_min},
        "classifier": params.as_dict(),
        "lexicon": {"source": lexicon.SOURCE, "words": len(valences)} if valences else None,
        "training": summary,
    })
    return summary


def _scores(model: SentimentModel, sets: dict[str, pd.DataFrame]) -> dict:
    """Metrics, confusion matrix and ROC of `model` on each evaluation set: {set: {...}}."""
    out = {}
    for name, frame in sets.items():
        y_true, scores = frame["label"].to_numpy(), model.score_clean(frame["clean"].tolist())
        out[name] = {"metrics": evaluation.metrics(y_true, scores, model.thresholds), "scores": scores,
                     "confusion_matrix": evaluation.confusion(y_true, scores),
                     "roc": dict(zip(("fpr", "tpr", "thresholds"), evaluation.roc_points(y_true, scores)))}
    return out


def public_set(uri: str) -> pd.DataFrame:
    """A labelled public test set (e.g. sentiment140's hand-labelled tweets): `text`, `clean` and 0/1 `label`."""
    return dataset.prepare(dataset.read_dataset(uri)[0])[0]


def reference(train: pd.DataFrame, validation: pd.DataFrame, sets: dict[str, pd.DataFrame],
              thresholds: Thresholds = Thresholds()) -> dict:
    """The strong TF-IDF reference, fitted on the model's own training split, scored on each set."""
    started = time.monotonic()
    fitted = evaluation.tfidf_reference(train["text"].tolist(), train["label"].to_numpy(),
                                        validation["text"].tolist(), validation["label"].to_numpy())
    seconds = time.monotonic() - started
    log.info("TF-IDF reference fitted in %.1fs (C=%g, chosen on validation)", seconds, fitted.chosen_c)
    return {"name": evaluation.REFERENCE_NAME, "c": fitted.chosen_c, "train_seconds": round(seconds, 2),
            "scores": {name: evaluation.metrics(frame["label"].to_numpy(),
                                                evaluation.reference_scores(fitted, frame["text"].tolist()),
                                                thresholds) for name, frame in sets.items()}}


def evaluate(bundle_dir: str, train_path: str, validation_path: str, test_path: str, min_accuracy: float,
             model_store_uri: str = "", public_test_uri: str = "", tolerance: float = 0.01,
             force: bool = False) -> dict:
    """The challenger, the store's champion and the TF-IDF reference on the held-out split and the public
    set; `passed` is the publishing decision (see `champion`)."""
    import tempfile

    from twitter_sentiment import champion as champions
    from twitter_sentiment import drift

    model = SentimentModel.load(bundle_dir)
    sets = {champions.HELD_OUT: dataset.load(test_path)}
    if public_test_uri:
        sets[champions.PUBLIC] = public_set(public_test_uri)
    else:
        log.warning("no public_test_uri: the challenger and champion are compared on the held-out split only")
    started = time.monotonic()
    mine = _scores(model, sets)
    scoring_seconds = time.monotonic() - started
    reference_result = reference(dataset.load(train_path), dataset.load(validation_path), sets, model.thresholds)
    held_out_texts = sets[champions.HELD_OUT]["clean"].tolist()
    with tempfile.TemporaryDirectory(prefix="twitter-sentiment-champion-") as directory:
        champion = champions.load_champion(model_store_uri, directory)
        theirs = _scores(champion.model, sets) if champion.model is not None else {}
    if champion.status != champions.READY:
        log.warning("champion/challenger: %s", champion.reason)
    challenger = {name: scored["metrics"] for name, scored in mine.items()}
    champion_scores = {name: scored["metrics"] for name, scored in theirs.items()}
    decision = champions.decide(challenger, champion_scores, champion,
                                champions.Gate(min_accuracy, tolerance, force))
    held_out = mine[champions.HELD_OUT]
    result = {
        "model": held_out["metrics"],
        "public": challenger.get(champions.PUBLIC),
        "scores": challenger,
        "reference_tfidf": reference_result,
        "confusion_matrix": held_out["confusion_matrix"],
        "roc": held_out["roc"],
        "champion": {"version": champion.version, "status": champion.status, "reason": champion.reason,
                     "scores": champion_scores,
                     "confusion_matrix": theirs[champions.HELD_OUT]["confusion_matrix"] if theirs else None,
                     "roc": theirs[champions.HELD_OUT]["roc"] if theirs else None},
        "decision": decision,
        "min_accuracy": min_accuracy,
        "tolerance": tolerance,
        "public_test_uri": public_test_uri,
        "passed": decision["publish"],
        "profile": drift.profile(held_out["scores"], held_out_texts, model.vocabulary, model.thresholds),
        "scoring_tweets_per_second": round(len(held_out_texts) / max(scoring_seconds, 1e-9), 1),
    }
    result["report_markdown"] = champions.markdown(result)
    return result


def code_version() -> str:
    """The commit that trained a model: CI's variable, else git, else the package version."""
    for name in ("CODE_VERSION", "CI_COMMIT_SHA"):
        if os.environ.get(name):
            return os.environ[name]
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__


def export(bundle_dir: str, evaluation_result: dict, store_uri: str, version: str = "") -> str:
    """Add the evaluation and provenance to the bundle's metadata and publish it. Returns the version URI."""
    if not evaluation_result.get("passed"):
        raise RuntimeError("the model did not pass the evaluation gate: refusing to publish it")
    import shutil
    import tempfile

    with tempfile.TemporaryDirectory() as staging:
        # Work on a copy: the trained bundle (a pipeline artifact) stays as training left it.
        staged = shutil.copytree(bundle_dir, Path(staging) / "bundle")
        return _publish(staged, evaluation_result, store_uri, version)


def _publish(bundle_dir: Path, evaluation_result: dict, store_uri: str, version: str) -> str:
    metadata = json.loads((bundle_dir / "metadata.json").read_text())
    version = version or new_version(metadata.get("dataset", {}).get("fingerprint", ""))
    update_metadata(bundle_dir, {
        "version": version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "code_version": code_version(),
        "evaluation": {k: evaluation_result.get(k) for k in (
            "model", "public", "reference_tfidf", "confusion_matrix", "min_accuracy", "tolerance", "public_test_uri",
            "decision", "profile")} | {"champion": {k: evaluation_result.get("champion", {}).get(k)
                                                   for k in ("version", "status", "reason", "scores")}},
    })
    return ModelStore(store_uri).publish(bundle_dir, version)

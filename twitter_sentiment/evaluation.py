"""Scoring a model on held-out tweets, and the strong TF-IDF reference it has to beat."""

from __future__ import annotations

import html

import ftfy
import numpy as np

from twitter_sentiment.bundle import Thresholds
from twitter_sentiment.text import normalise_links


def metrics(y_true: np.ndarray, scores: np.ndarray, thresholds: Thresholds = Thresholds()) -> dict:
    """Binary metrics at 0.5, plus the share of tweets the thresholds put in the NEUTRAL band."""
    from sklearn import metrics as m

    y_true = np.asarray(y_true).astype(int)
    scores = np.clip(np.asarray(scores, dtype=np.float64), 1e-7, 1 - 1e-7)
    y_pred = (scores >= 0.5).astype(int)
    precision, recall, f1, _ = m.precision_recall_fscore_support(y_true, y_pred, average="binary", zero_division=0)
    neutral = (scores > thresholds.negative_max) & (scores < thresholds.positive_min)
    both_classes = len(np.unique(y_true)) == 2
    return {
        "accuracy": float(m.accuracy_score(y_true, y_pred)),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(f1),
        "roc_auc": float(m.roc_auc_score(y_true, scores)) if both_classes else float("nan"),
        "log_loss": float(m.log_loss(y_true, scores, labels=[0, 1])),
        "neutral_share": float(neutral.mean()) if len(scores) else 0.0,
        "examples": int(len(y_true)),
    }


def confusion(y_true: np.ndarray, scores: np.ndarray) -> list[list[int]]:
    """Rows: true BINARY_LABELS; columns: predicted (at 0.5)."""
    from sklearn.metrics import confusion_matrix

    return confusion_matrix(np.asarray(y_true).astype(int), (np.asarray(scores) >= 0.5).astype(int),
                            labels=[0, 1]).tolist()


def roc_points(y_true: np.ndarray, scores: np.ndarray, most: int = 200) -> tuple[list, list, list]:
    """(fpr, tpr, thresholds), thinned to at most `most` points for the Kubeflow UI."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(np.asarray(y_true).astype(int), scores)
    thresholds = np.minimum(thresholds, 1.0)  # sklearn puts +inf first
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(most, len(fpr))).astype(int))
    return fpr[keep].tolist(), tpr[keep].tolist(), thresholds[keep].tolist()


# The strong linear reference: word 1-2-grams and in-word character 2-5-grams, sublinear tf, on the tweet's
# own text with URLs and mentions replaced by one token each; C chosen on the validation split.
REFERENCE_C = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
REFERENCE_NAME = "TF-IDF words 1-2 + characters 2-5, logistic regression"


def reference_text(text: str) -> str:
    """What the reference reads: the raw tweet, mojibake repaired, lower-cased, URLs and mentions normalised."""
    return normalise_links(ftfy.fix_text(html.unescape(text))).lower()


def tfidf_reference(train_texts: list[str], train_labels: np.ndarray, validation_texts: list[str],
                    validation_labels: np.ndarray, seed: int = 42):
    """The reference the model must beat, fitted on raw tweets (`reference_text` is applied here).

    Returns the fitted pipeline; its `chosen_c` attribute records the C that won on validation."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                          TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True))
    x_train = features.fit_transform([reference_text(t) for t in train_texts])
    x_validation = features.transform([reference_text(t) for t in validation_texts])
    y_train, y_validation = np.asarray(train_labels).astype(int), np.asarray(validation_labels).astype(int)
    fitted = [LogisticRegression(C=c, max_iter=2000, random_state=seed).fit(x_train, y_train) for c in REFERENCE_C]
    best = max(fitted, key=lambda model: (model.score(x_validation, y_validation), -model.C))
    reference = make_pipeline(features, best)
    reference.chosen_c = best.C
    return reference


def reference_scores(reference, texts: list[str]) -> np.ndarray:
    """The reference's positive probability for raw tweets."""
    return reference.predict_proba([reference_text(t) for t in texts])[:, 1]


SUMMARY_METRICS = ("accuracy", "f1", "roc_auc", "log_loss")  # what `versions list` shows of each split


def comparable_metrics(evaluation: dict) -> dict:
    """Flat metrics of a recorded evaluation: held-out split first, then the public set (`public_*`)."""
    held_out, public = evaluation.get("model") or {}, evaluation.get("public") or {}
    return {**{name: held_out[name] for name in SUMMARY_METRICS if name in held_out},
            **{f"public_{name}": public[name] for name in SUMMARY_METRICS if name in public}}

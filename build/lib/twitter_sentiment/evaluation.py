"""Scoring a model on held-out tweets, and the TF-IDF reference it has to beat."""

from __future__ import annotations

import numpy as np

from twitter_sentiment.bundle import Thresholds


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


def tfidf_reference(train_texts: list[str], train_labels: np.ndarray, seed: int = 42):
    """TF-IDF (words and bigrams) + logistic regression: what the deep model must beat."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    reference = make_pipeline(TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
                              LogisticRegression(max_iter=1000, C=4.0, random_state=seed))
    reference.fit(train_texts, np.asarray(train_labels).astype(int))
    return reference


def reference_scores(reference, texts: list[str]) -> np.ndarray:
    return reference.predict_proba(texts)[:, 1]


SUMMARY_METRICS = ("accuracy", "f1", "roc_auc", "log_loss")  # what `versions list` shows of each split


def comparable_metrics(evaluation: dict) -> dict:
    """Flat metrics of a recorded evaluation: held-out split first, then the public set (`public_*`)."""
    held_out, public = evaluation.get("model") or {}, evaluation.get("public") or {}
    return {**{name: held_out[name] for name in SUMMARY_METRICS if name in held_out},
            **{f"public_{name}": public[name] for name in SUMMARY_METRICS if name in public}}

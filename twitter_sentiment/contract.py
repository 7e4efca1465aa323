"""The values every part agrees on: one home for each, and no numpy, TensorFlow or framework import.

Training writes bundles with these defaults, serving answers with these labels and limits, the
streamer asks these URLs and stores into this table. Change one here and every part follows.
"""

from __future__ import annotations

MODEL_NAME = "twitter-sentiment"  # the InferenceService, the KServe model and the store's prefix
EXPERIMENT = "twitter-sentiment"  # the Kubeflow experiment every run goes into, scheduled or not
RESULTS_TABLE = "twitter-sentiment-results"  # the DynamoDB table of one item per tweet

NEGATIVE, NEUTRAL, POSITIVE = "NEGATIVE", "NEUTRAL", "POSITIVE"
LABELS = (NEGATIVE, NEUTRAL, POSITIVE)
BINARY_LABELS = (NEGATIVE, POSITIVE)  # what the training data knows: the evaluation's classes
REJECTED, UNSCORED = "REJECTED", "UNSCORED"  # stored results the model never scored, with a reason

NEGATIVE_MAX = 0.4  # default: score <= this is NEGATIVE (a bundle may carry its own)
POSITIVE_MIN = 0.7  # default: score >= this is POSITIVE; between is NEUTRAL

MAX_INSTANCES = 1024  # tweets in one predict request (MAX_INSTANCES)
MAX_TEXT_LENGTH = 1000  # characters in one tweet's text (MAX_TEXT_LENGTH)


def model_path(model_name: str = MODEL_NAME) -> str:
    """KServe v1 model metadata: GET answers the served version."""
    return f"/v1/models/{model_name}"


def predict_path(model_name: str = MODEL_NAME) -> str:
    """KServe v1 predict: {"instances": [...]} -> {"predictions": [...]}."""
    return f"{model_path(model_name)}:predict"


def ready_path(model_name: str = MODEL_NAME) -> str:
    """KServe v2 model readiness: 200 once the model is loaded."""
    return f"/v2/models/{model_name}/ready"

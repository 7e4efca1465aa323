"""KFP v2 components: one training step each, a thin adapter over `twitter_sentiment.training`.

Each function body imports what it needs: KFP ships the body alone into the step's container.
"""

from components.evaluate import evaluate
from components.export_model import export_model
from components.fetch_dataset import fetch_dataset
from components.monitor_drift import monitor_drift
from components.preprocess import preprocess
from components.start_training import start_training
from components.train_classifier import train_classifier
from components.train_word2vec import train_word2vec

__all__ = ["fetch_dataset", "preprocess", "train_word2vec", "train_classifier", "evaluate", "export_model",
           "monitor_drift", "start_training"]

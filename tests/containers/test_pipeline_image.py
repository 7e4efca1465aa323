"""The training pipeline as Kubeflow runs it: each step a container of the components image
(kfp.local.DockerRunner), on a slice of the embedded sample, publishing a bundle to a store."""

from __future__ import annotations

import json

import pytest

from tests.containers.conftest import TINY_RUN

pytestmark = pytest.mark.slow

STEPS = ("fetch-dataset", "preprocess", "train-word2vec", "train-classifier", "evaluate", "export-model")


def test_every_step_runs_in_the_image_and_the_bundle_is_published(pipeline_run):
    from twitter_sentiment.bundle import SentimentModel, verify_bundle
    from twitter_sentiment.store import ModelStore

    root, store_dir = pipeline_run
    [run] = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("twitter-sentiment-training-")]
    ran = {p.name for p in run.iterdir() if p.is_dir()}
    assert set(STEPS) <= ran, ran
    # Written inside the containers, by the image's user (10001), not by this process (root).
    outputs = [f for step in STEPS[:-1] for f in (run / step).rglob("*") if f.is_file()]
    assert outputs and {f.stat().st_uid for f in outputs} == {10001}
    store = ModelStore(str(store_dir))
    latest = store.latest()
    assert latest == TINY_RUN["version"]
    bundle = store_dir / latest
    metadata = verify_bundle(bundle)
    assert metadata["dataset"]["uri"] == "sample"
    evaluation = json.loads(next((run / "evaluate").rglob("evaluation")).read_text())
    assert evaluation["model"]["examples"] > 0
    # The bundle the image wrote loads and scores here, under this venv's TensorFlow.
    predictions = SentimentModel.load(bundle).predict(["I love it", "I hate it"])
    assert all(0.0 <= p.score <= 1.0 for p in predictions)

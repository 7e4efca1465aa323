"""Each KFP component through its python_func, with real artifacts on disk."""

import json

import pytest
from kfp.dsl import Artifact, ClassificationMetrics, Dataset, Markdown, Metrics, Model

from components import evaluate, export_model, fetch_dataset, preprocess, train_classifier, train_word2vec
from twitter_sentiment.bundle import SentimentModel
from twitter_sentiment.store import ModelStore

pytestmark = pytest.mark.slow  # the steps train a real model


def art(cls, path):
    return cls(uri=str(path))


@pytest.fixture(scope="module")
def steps(tmp_path_factory):
    """fetch → preprocess → word2vec → classifier → evaluate, on 1,500 sample tweets."""
    d = tmp_path_factory.mktemp("steps")
    a = {name: art(cls, d / name) for name, cls in [
        ("raw", Dataset), ("train", Dataset), ("validation", Dataset), ("test", Dataset), ("stats", Metrics),
        ("vectors", Model), ("bundle", Model), ("training_metrics", Metrics), ("metrics", Metrics),
        ("classification", ClassificationMetrics), ("report", Markdown), ("evaluation", Artifact)]}
    out = fetch_dataset.python_func(dataset_uri="sample", sample_rows=1500, seed=3, dataset=a["raw"])
    preprocess.python_func(raw=a["raw"], validation_fraction=0.1, test_fraction=0.1, seed=3, train=a["train"],
                           validation=a["validation"], test=a["test"], stats=a["stats"])
    train_word2vec.python_func(train=a["train"], vector_size=16, window=5, min_count=2, epochs=2, workers=1, seed=3,
                               vectors=a["vectors"])
    train_classifier.python_func(
        train=a["train"], validation=a["validation"], vectors=a["vectors"], dataset_uri="sample",
        dataset_fingerprint=out.fingerprint, sequence_length=20, units=8, recurrent_dropout=0.0, dropout=0.5,
        trainable_embedding=False, bidirectional=False, balanced=False, batch_size=128, epochs=2,
        learning_rate=0.001, patience=1, max_words=0,
        negative_max=0.4, positive_min=0.7, seed=3, bundle=a["bundle"], training_metrics=a["training_metrics"])
    passed = evaluate.python_func(bundle=a["bundle"], train=a["train"], test=a["test"], min_accuracy=0.0,
                                  metrics=a["metrics"], classification=a["classification"], report=a["report"],
                                  evaluation=a["evaluation"])
    return {"artifacts": a, "fetch": out, "passed": passed}


def test_fetch_outputs(steps):
    out, raw = steps["fetch"], steps["artifacts"]["raw"]
    assert out.rows == 38158 and out.skipped == 0 and len(out.fingerprint) == 64
    assert raw.metadata["format"] == "crowdflower-sample"
    assert open(raw.path).readline().strip() == "id,text,sentiment"


def test_preprocess_metrics(steps):
    stats = steps["artifacts"]["stats"].metadata
    assert stats["train"] > stats["validation"] > 0 and stats["dropped_neutral"] > 0


def test_word2vec_vectors_load_without_pickle(steps):
    from twitter_sentiment.embeddings import load_vectors

    vectors = load_vectors(steps["artifacts"]["vectors"].path)
    assert vectors.vector_size == 16 and len(vectors.index_to_key) == steps["artifacts"]["vectors"].metadata["words"]


def test_classifier_writes_a_loadable_bundle(steps):
    model = SentimentModel.load(steps["artifacts"]["bundle"].path)
    assert model.sequence_length == 20
    assert model.metadata["dataset"]["fingerprint"] == steps["fetch"].fingerprint
    assert model.metadata["word2vec"]["vector_size"] == 16
    assert "epochs_run" in steps["artifacts"]["training_metrics"].metadata


def test_evaluate_logs_what_the_ui_draws(steps):
    a = steps["artifacts"]
    assert steps["passed"] is True  # min_accuracy 0
    assert {"accuracy", "f1", "roc_auc", "log_loss", "neutral_share", "tfidf_accuracy"} <= set(a["metrics"].metadata)
    matrix = a["classification"].metadata["confusionMatrix"]
    assert [s["displayName"] for s in matrix["annotationSpecs"]] == ["NEGATIVE", "POSITIVE"]
    assert sum(sum(r["row"]) for r in matrix["rows"]) == a["metrics"].metadata["examples"]
    assert a["classification"].metadata["confidenceMetrics"]
    assert "TF-IDF" in open(a["report"].path).read()
    assert json.load(open(a["evaluation"].path))["passed"] is True


def test_evaluate_gate_fails_above_the_accuracy(steps, tmp_path):
    a = steps["artifacts"]
    passed = evaluate.python_func(bundle=a["bundle"], train=a["train"], test=a["test"], min_accuracy=1.01,
                                  metrics=art(Metrics, tmp_path / "m"),
                                  classification=art(ClassificationMetrics, tmp_path / "c"),
                                  report=art(Markdown, tmp_path / "r"), evaluation=art(Artifact, tmp_path / "e"))
    assert passed is False
    assert "FAILED: nothing is published" in open(tmp_path / "r").read()


def test_export_publishes_with_provenance(steps, tmp_path):
    a = steps["artifacts"]
    store_dir = tmp_path / "store"
    out = export_model.python_func(bundle=a["bundle"], evaluation=a["evaluation"], model_store_uri=str(store_dir),
                                   version="v-test")
    assert out.version_uri == f"{store_dir}/v-test/"
    metadata = json.loads((store_dir / "v-test" / "metadata.json").read_text())
    assert metadata["version"] == "v-test" and metadata["code_version"]
    assert metadata["evaluation"]["model"]["accuracy"] == a["metrics"].metadata["accuracy"]
    assert metadata["classifier"]["sequence_length"] == 20
    assert "version" not in json.loads(open(f"{a['bundle'].path}/metadata.json").read())  # the artifact is untouched
    assert ModelStore(str(store_dir)).latest() == "v-test"


def test_export_refuses_a_failed_evaluation(steps, tmp_path):
    a = steps["artifacts"]
    failed = tmp_path / "failed.json"
    failed.write_text(json.dumps({**json.load(open(a["evaluation"].path)), "passed": False}))
    with pytest.raises(RuntimeError, match="did not pass the evaluation gate"):
        export_model.python_func(bundle=a["bundle"], evaluation=art(Artifact, failed),
                                 model_store_uri=str(tmp_path / "store"), version="")
    assert not (tmp_path / "store").exists()

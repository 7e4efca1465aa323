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
        ("classification", ClassificationMetrics), ("champion_metrics", Metrics),
        ("champion_classification", ClassificationMetrics), ("report", Markdown), ("evaluation", Artifact)]}
    out = fetch_dataset.python_func(dataset_uri="sample", sample_rows=1500, seed=3, dataset=a["raw"])
    preprocess.python_func(raw=a["raw"], validation_fraction=0.1, test_fraction=0.1, seed=3, train=a["train"],
                           validation=a["validation"], test=a["test"], stats=a["stats"])
    train_word2vec.python_func(train=a["train"], vector_size=16, window=5, min_count=2, epochs=2, workers=1, seed=3,
                               vectors=a["vectors"])
    train_classifier.python_func(
        train=a["train"], validation=a["validation"], vectors=a["vectors"], dataset_uri="sample",
        dataset_fingerprint=out.fingerprint, sequence_length=20, units=8, recurrent_dropout=0.0, dropout=0.5,
        trainable_embedding=False, bidirectional=False, balanced=False, batch_size=128, epochs=2,
        learning_rate=0.001, patience=1, monitor="val_loss", reduce_lr_patience=0, length_aware=True,
        lexicon_weight=16.0, max_words=0,
        negative_max=0.4, positive_min=0.7, seed=3, bundle=a["bundle"], training_metrics=a["training_metrics"])
    passed = evaluate.python_func(bundle=a["bundle"], train=a["train"], validation=a["validation"], test=a["test"],
                                  min_accuracy=0.0,
                                  model_store_uri="", public_test_uri="", tolerance=0.01, force=False,
                                  metrics=a["metrics"], classification=a["classification"],
                                  champion_metrics=a["champion_metrics"],
                                  champion_classification=a["champion_classification"], report=a["report"],
                                  evaluation=a["evaluation"])
    return {"artifacts": a, "fetch": out, "passed": passed}


def run_evaluate(steps, tmp_path, store="", public="", tolerance=0.01, force=False, min_accuracy=0.0) -> tuple:
    """The evaluate component against `store`'s champion: (passed, result, {output name: artifact})."""
    a = steps["artifacts"]
    tmp_path.mkdir(parents=True, exist_ok=True)
    out = {name: art(cls, tmp_path / name) for name, cls in [
        ("metrics", Metrics), ("classification", ClassificationMetrics), ("champion_metrics", Metrics),
        ("champion_classification", ClassificationMetrics), ("report", Markdown), ("evaluation", Artifact)]}
    passed = evaluate.python_func(bundle=a["bundle"], train=a["train"], validation=a["validation"], test=a["test"],
                                  min_accuracy=min_accuracy,
                                  model_store_uri=str(store), public_test_uri=str(public), tolerance=tolerance,
                                  force=force, **out)
    return passed, json.load(open(out["evaluation"].path)), out


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
    # What a run that used a slice of the data records: the limit, the split and every seed.
    assert model.metadata["dataset"]["sample_rows"] == 1500
    split = model.metadata["split"]
    assert split["fractions"] == {"validation": 0.1, "test": 0.1} and split["seed"] == 3
    assert sum(split["sizes"].values()) == steps["artifacts"]["stats"].metadata["train"] + \
        steps["artifacts"]["stats"].metadata["validation"] + steps["artifacts"]["stats"].metadata["test"]
    assert model.metadata["seeds"] == {"sample": 3, "split": 3, "word2vec": 3, "keras": 3}
    # The lexicon's words join Word2vec's, so sentiment words the 1,500 tweets never show still count.
    assert model.metadata["lexicon"]["words"] > 7000
    assert len(model.vocabulary) > model.metadata["word2vec"]["words"] + 5000
    assert "epochs_run" in steps["artifacts"]["training_metrics"].metadata


def test_evaluate_logs_what_the_ui_draws(steps):
    a = steps["artifacts"]
    assert steps["passed"] is True  # min_accuracy 0
    assert {"accuracy", "f1", "roc_auc", "log_loss", "neutral_share", "reference_accuracy",
            "reference_roc_auc"} <= set(a["metrics"].metadata)
    matrix = a["classification"].metadata["confusionMatrix"]
    assert [s["displayName"] for s in matrix["annotationSpecs"]] == ["NEGATIVE", "POSITIVE"]
    assert sum(sum(r["row"]) for r in matrix["rows"]) == a["metrics"].metadata["examples"]
    assert a["classification"].metadata["confidenceMetrics"]
    report = open(a["report"].path).read()
    assert "TF-IDF words 1-2 + characters 2-5" in report and "C chosen on the validation split" in report
    assert json.load(open(a["evaluation"].path))["passed"] is True


def test_evaluate_gate_fails_above_the_accuracy(steps, tmp_path):
    passed, result, out = run_evaluate(steps, tmp_path, min_accuracy=1.01)
    assert passed is False and result["decision"]["verdict"] == "floor_failed"
    report = open(out["report"].path).read()
    assert "NOT PUBLISHED" in report and "no champion yet" in report and "< min_accuracy 1.01" in report


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


# --- champion and challenger -------------------------------------------------------------------------------------
def publish_challenger(steps, tmp_path, store, version="champion-1") -> str:
    """Publish this module's challenger itself as the champion: the two score exactly alike."""
    _, result, out = run_evaluate(steps, tmp_path / "first", store)
    export_model.python_func(bundle=steps["artifacts"]["bundle"], evaluation=out["evaluation"],
                             model_store_uri=str(store), version=version)
    return version


def test_champion_of_equal_accuracy_is_replaced_within_the_tolerance(steps, tmp_path):
    store = tmp_path / "store"
    publish_challenger(steps, tmp_path, store)
    passed, result, out = run_evaluate(steps, tmp_path / "second", store, tolerance=0.0)
    assert passed is True and result["decision"]["verdict"] == "challenger_wins"
    assert result["champion"]["scores"]["held_out"]["accuracy"] == result["model"]["accuracy"]
    # both models side by side in the UI: each has its Metrics and its ClassificationMetrics
    assert out["champion_metrics"].metadata["accuracy"] == out["metrics"].metadata["accuracy"]
    assert out["champion_metrics"].metadata["compared"] == 1.0
    assert out["champion_classification"].metadata["confusionMatrix"]["rows"]
    assert "| held-out split | accuracy |" in open(out["report"].path).read()
    assert "champion champion-1" in open(out["report"].path).read()


def test_challenger_worse_than_the_tolerance_is_a_successful_run_that_publishes_nothing(steps, tmp_path):
    store = tmp_path / "store"
    publish_challenger(steps, tmp_path, store)
    # A negative tolerance asks the challenger to beat the champion by 0.01; an equal one is refused.
    passed, result, out = run_evaluate(steps, tmp_path / "second", store, tolerance=-0.01)
    assert passed is False and result["decision"]["verdict"] == "champion_kept"
    report = open(out["report"].path).read()
    assert "NOT PUBLISHED" in report and "champion-1 stays" in report
    with pytest.raises(RuntimeError, match="did not pass"):
        export_model.python_func(bundle=steps["artifacts"]["bundle"], evaluation=out["evaluation"],
                                 model_store_uri=str(store), version="")
    assert ModelStore(str(store)).versions() == ["champion-1"]


def test_force_publishes_and_says_so(steps, tmp_path):
    store = tmp_path / "store"
    publish_challenger(steps, tmp_path, store)
    passed, result, out = run_evaluate(steps, tmp_path / "second", store, tolerance=-0.01, force=True)
    assert passed is True and result["decision"]["forced"] is True
    assert "force=true was used" in open(out["report"].path).read()
    export_model.python_func(bundle=steps["artifacts"]["bundle"], evaluation=out["evaluation"],
                             model_store_uri=str(store), version="forced")
    recorded = ModelStore(str(store)).metadata("forced")["evaluation"]["decision"]
    assert recorded["forced"] is True and "force=true" in recorded["reason"]


def test_public_set_is_scored_for_both_models(steps, tmp_path, sentiment140_testdata):
    store = tmp_path / "store"
    publish_challenger(steps, tmp_path, store)
    passed, result, out = run_evaluate(steps, tmp_path / "second", store, public=sentiment140_testdata, tolerance=0)
    assert result["public"]["examples"] == 359  # sentiment140's hand-labelled positive and negative tweets
    assert result["champion"]["scores"]["public"]["accuracy"] == result["public"]["accuracy"]
    assert out["metrics"].metadata["public_accuracy"] == result["public"]["accuracy"]
    assert "| public set | accuracy |" in open(out["report"].path).read()
    # The reference is scored on the public set too, beside both models, in the UI's metrics and the report.
    reference = result["reference_tfidf"]
    assert reference["scores"]["public"]["examples"] == 359 and reference["c"] in (0.5, 1, 2, 4, 8, 16)
    assert out["metrics"].metadata["reference_public_accuracy"] == reference["scores"]["public"]["accuracy"]


def test_without_a_public_set_it_warns(steps, tmp_path, capfd):
    _, result, out = run_evaluate(steps, tmp_path)
    assert result["public"] is None
    assert "WARNING twitter_sentiment.training: no public_test_uri" in capfd.readouterr().err
    assert "No public set was given" in open(out["report"].path).read()


def test_unreadable_champion_is_said_clearly_and_nothing_is_published(steps, tmp_path):
    store = tmp_path / "store"
    publish_challenger(steps, tmp_path, store)
    (store / "champion-1" / "model.keras").write_bytes(b"not a model")
    passed, result, out = run_evaluate(steps, tmp_path / "second", store)
    assert passed is False and result["champion"]["status"] == "unreadable"
    report = open(out["report"].path).read()
    assert "champion champion-1 cannot be read" in report and "does not match its sha256" in report
    assert "force=true" in report  # the way out is named


def test_champion_with_other_cleaning_rules_is_reported_incomparable(steps, tmp_path):
    store = tmp_path / "store"
    publish_challenger(steps, tmp_path, store)
    metadata = json.loads((store / "champion-1" / "metadata.json").read_text())
    (store / "champion-1" / "metadata.json").write_text(json.dumps({**metadata, "cleaning_version": "0"}))
    passed, result, _ = run_evaluate(steps, tmp_path / "second", store, min_accuracy=0.0)
    assert result["champion"]["status"] == "incomparable" and "cleaning rules v0" in result["champion"]["reason"]
    assert passed is True and result["decision"]["verdict"] == "floor_passed"  # the absolute floor decides


def test_champion_in_s3_is_compared(steps, tmp_path, aws_env):
    import boto3

    boto3.client("s3", endpoint_url=aws_env).create_bucket(Bucket="champions")
    store = "s3://champions/models/twitter-sentiment"
    publish_challenger(steps, tmp_path, store)
    passed, result, _ = run_evaluate(steps, tmp_path / "second", store, tolerance=0.0)
    assert result["champion"]["version"] == "champion-1" and result["champion"]["status"] == "ready"
    assert passed is True


def test_export_records_the_profile_the_monitor_compares_with(steps, tmp_path):
    store = tmp_path / "store"
    publish_challenger(steps, tmp_path, store)
    profile = ModelStore(str(store)).metadata("champion-1")["evaluation"]["profile"]
    assert sum(profile["score_histogram"]) == pytest.approx(1.0)
    assert set(profile["label_mix"]) == {"NEGATIVE", "NEUTRAL", "POSITIVE"} and 0 <= profile["oov_share"] < 1

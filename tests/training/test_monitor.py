"""The monitor: drift of stored results against the champion, in plain functions and as a pipeline under
kfp.local reading DynamoDB Local (AWS's own jar) seeded with results."""

import json
import random
import shutil
import uuid
from decimal import Decimal
from types import SimpleNamespace

import pytest

from pipelines.__main__ import main
from twitter_sentiment import dataset, drift, dynamodb_local, retrain
from twitter_sentiment.bundle import SentimentModel, update_metadata
from twitter_sentiment.results import read_window, window
from twitter_sentiment.store import ModelStore

END = "2026-05-04T12:00:00Z"  # the window's end in these tests: two hours of results before it


@pytest.fixture(scope="module")
def sample_texts():
    frame, _ = dataset.read_dataset("sample")
    prepared, _ = dataset.prepare(dataset.subsample(frame, 1200, seed=5))
    return prepared["clean"].tolist()[:600]


@pytest.fixture(scope="module")
def champion(tiny_bundle, sample_texts, tmp_path_factory):
    """A store whose champion is the tiny model, its profile taken on 300 sample tweets (as evaluate does)."""
    model = SentimentModel.load(tiny_bundle)
    texts = sample_texts[:300]
    bundle = shutil.copytree(tiny_bundle, tmp_path_factory.mktemp("champion") / "bundle")
    update_metadata(bundle, {"evaluation": {"profile": drift.profile(model.score_clean(texts), texts,
                                                                      model.vocabulary, model.thresholds)}})
    store = ModelStore(str(tmp_path_factory.mktemp("store") / "store"))
    store.publish(bundle, "champion-1")
    return SimpleNamespace(store=store, model=model)


def item(n: int, text: str, score: float, label: str, minute: int) -> dict:
    return {"id": str(10_000 + n), "user": "someone", "sentiment": label, "score": Decimal(str(round(score, 6))),
            "twitter_raw": text, "twitter_clean": text, "date": f"2026-05-04T{10 + minute // 60:02d}:{minute % 60:02d}"
                                                                  f":00.000Z", "model_version": "champion-1"}


def unshifted(champion, texts) -> list[dict]:
    """What the stream stores when its tweets are like the champion's held-out ones: the model's own results."""
    scores = champion.model.score_clean(texts)
    return [item(n, text, float(s), champion.model.thresholds.label(float(s)), n % 120)
            for n, (text, s) in enumerate(zip(texts, scores))]


def shifted(count: int = 300) -> list[dict]:
    """A stream that changed: words the model never saw, and scores piled up at the positive end."""
    rng = random.Random(3)
    words = [f"zq{rng.randrange(10**6)}" for _ in range(count * 5)]
    return [item(n, " ".join(words[5 * n:5 * n + 5]), rng.uniform(0.9, 1.0), "POSITIVE", n % 120)
            for n in range(count)]


# --- the comparison, as plain functions -----------------------------------------------------------------------
def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_shift():
    base = drift.score_histogram([i / 100 for i in range(100)])
    assert drift.psi(base, base) == 0
    assert drift.psi(base, drift.score_histogram([0.95] * 100)) > drift.psi(base, drift.score_histogram(
        [i / 200 + 0.25 for i in range(100)])) > 0.2


def test_unshifted_results_are_stable(champion, sample_texts):
    baseline = champion.store.metadata("champion-1")["evaluation"]["profile"]
    report = drift.compare(unshifted(champion, sample_texts[300:]), baseline, champion.model.vocabulary,
                           drift.Limits(), "a", "b", 2)
    assert report["status"] == "stable" and not report["drifted"], report["checks"]
    assert report["psi"] < 0.2 and report["volume"] == 300


def test_health_problems_are_flagged_but_do_not_retrain(champion, sample_texts):
    baseline = champion.store.metadata("champion-1")["evaluation"]["profile"]
    items = unshifted(champion, sample_texts[300:])
    for n in range(60):  # a fifth of the tweets refused: the stream changed shape, not the model's world
        items[n] = {**items[n], "sentiment": "REJECTED", "reason": "too_long", "score": None}
    report = drift.compare(items, baseline, champion.model.vocabulary, drift.Limits(), "a", "b", 2)
    flagged = {c["name"] for c in report["checks"] if c["flagged"]}
    assert flagged == {"REJECTED rate"} and not report["drifted"]


def test_too_few_results_are_not_judged(champion, sample_texts):
    baseline = champion.store.metadata("champion-1")["evaluation"]["profile"]
    report = drift.compare(shifted(10), baseline, champion.model.vocabulary, drift.Limits(), "a", "b", 2)
    assert report["status"] == "too_few" and not report["drifted"]


def test_window_reads_sqlite_results(tmp_path):
    from streamer.sinks import SQLiteSink

    sink = SQLiteSink(str(tmp_path / "results.sqlite"))
    sink.write([item(0, "in", 0.5, "NEUTRAL", 0), {**item(1, "before", 0.5, "NEUTRAL", 0),
                                                    "date": "2026-05-04T07:59:59.000Z"}])
    sink.close()
    start, end = window(2, END)
    assert [i["twitter_clean"] for i in read_window(f"sqlite://{tmp_path / 'results.sqlite'}", start, end)] == ["in"]
    with pytest.raises(ValueError, match="expected dynamodb://TABLE or sqlite:///PATH"):
        read_window("results.sqlite", start, end)


def test_start_training_run_through_a_fake_kfp_server():
    """A KFP server needs a cluster and cannot run here: this fake records what the monitor asks of the API."""
    calls = []
    fake = SimpleNamespace(
        get_pipeline_id=lambda name: "p-1" if name == "twitter-sentiment-training" else None,
        list_pipeline_versions=lambda **kw: SimpleNamespace(
            pipeline_versions=[SimpleNamespace(pipeline_version_id="ver-2")]),
        create_experiment=lambda name: SimpleNamespace(experiment_id="exp-1"),
        run_pipeline=lambda **kw: calls.append(kw) or SimpleNamespace(run_id="run-9"))
    assert retrain.start_training_run(fake, "twitter-sentiment-training", "e", "drift-retrain", {"seed": 1}) == "run-9"
    assert calls[0]["pipeline_id"] == "p-1" and calls[0]["version_id"] == "ver-2" and calls[0]["params"] == {"seed": 1}
    with pytest.raises(retrain.RetrainError, match="upload it first"):
        retrain.start_training_run(fake, "other", "e", "r", {})


# --- the pipeline under kfp.local, against DynamoDB Local ------------------------------------------------------
@pytest.fixture
def results_table(dynamodb_endpoint, monkeypatch):
    """A fresh results table in DynamoDB Local; returns a function that seeds it through the streamer's sink."""
    from streamer.sinks import DynamoDBSink, create_table

    for name, value in dynamodb_local.env(dynamodb_endpoint).items():
        monkeypatch.setenv(name, value)  # the kfp.local step is a subprocess: it inherits these
    client = dynamodb_local.client(dynamodb_endpoint)
    table = f"results-{uuid.uuid4().hex[:8]}"
    create_table(client, table)

    def seed(items):
        DynamoDBSink(table, client).write(items)
        return f"dynamodb://{table}"

    yield seed
    client.delete_table(TableName=table)


def run_monitor(tmp_path, capsys, champion, results_uri, *params) -> tuple[int, dict, str]:
    code = main(["monitor-local", "--results", results_uri, "--model-store", champion.store.uri,
                 "--artifacts", str(tmp_path / "art"), "--hours", "2", "--window-end", END,
                 *[arg for p in params for arg in ("--param", p)]])
    captured = capsys.readouterr()
    [run] = list((tmp_path / "art").glob("twitter-sentiment-monitor-*"))
    drift_file = run / "monitor-drift" / "drift"
    result = json.loads(drift_file.read_text()) if drift_file.exists() else {}
    return code, result, captured.out + captured.err


@pytest.mark.slow
def test_shifted_stream_is_flagged(tmp_path, capsys, champion, results_table):
    uri = results_table(shifted())
    code, result, out = run_monitor(tmp_path, capsys, champion, uri)
    assert code == 0, out
    assert result["status"] == "drift" and result["drifted"] and result["volume"] == 300
    assert {c["name"] for c in result["checks"] if c["flagged"]} >= {"score PSI", "label shift",
                                                                     "out-of-vocabulary rise"}
    run = next((tmp_path / "art").glob("twitter-sentiment-monitor-*"))
    assert "DRIFT" in (run / "monitor-drift" / "report").read_text()
    assert "data:image/png;base64," in (run / "monitor-drift" / "picture").read_text()
    assert not (run / "start-training").exists(), "retrain_on_drift is off by default"


@pytest.mark.slow
def test_unshifted_stream_is_not_flagged(tmp_path, capsys, champion, results_table, sample_texts):
    uri = results_table(unshifted(champion, sample_texts[300:]))
    # retraining is on: had the stream drifted, the step that calls the KFP API would have run and failed here
    code, result, out = run_monitor(tmp_path, capsys, champion, uri, "retrain_on_drift=true",
                                    "kfp_host=http://127.0.0.1:9")
    assert code == 0, out
    assert result["status"] == "stable" and not result["drifted"] and result["volume"] == 300
    assert "monitor: stable (300 results, champion champion-1)" in out


@pytest.mark.slow
def test_drift_with_retraining_on_reaches_the_kfp_api(tmp_path, capsys, champion, results_table):
    uri = results_table(shifted())
    code, result, out = run_monitor(tmp_path, capsys, champion, uri, "retrain_on_drift=true",
                                    "kfp_host=http://127.0.0.1:9")  # no KFP server can run here: the call fails
    assert result["drifted"] and code == 1
    assert "start-training" in out and "the monitor pipeline failed" in out


@pytest.mark.slow
def test_empty_window_is_reported_not_crashed_on(tmp_path, capsys, champion, results_table):
    uri = results_table([{**i, "date": "2026-05-01T00:00:00.000Z"} for i in shifted(20)])  # all before the window
    code, result, out = run_monitor(tmp_path, capsys, champion, uri)
    assert code == 0, out
    assert result["status"] == "empty" and result["volume"] == 0 and not result["drifted"]
    run = next((tmp_path / "art").glob("twitter-sentiment-monitor-*"))
    assert "no results in the window" in (run / "monitor-drift" / "report").read_text()


def test_compiled_monitor_is_a_valid_pipeline_spec(tmp_path):
    import yaml
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    out = tmp_path / "monitor.yaml"
    assert main(["compile", "--pipeline", "monitor", "-o", str(out), "--model-store-uri", "s3://models/ts",
                 "--dataset-uri", "ignored"]) == 0
    docs = list(yaml.safe_load_all(out.read_text()))
    spec = json_format.ParseDict(docs[0], pipeline_spec_pb2.PipelineSpec())
    tasks = spec.root.dag.tasks
    assert set(tasks) == {"monitor-drift", "condition-1"}
    assert "monitor-drift" in tasks["condition-1"].trigger_policy.condition
    parameters = spec.root.input_definitions.parameters
    assert parameters["model_store_uri"].default_value.string_value == "s3://models/ts"
    assert parameters["results_uri"].default_value.string_value == "dynamodb://twitter-sentiment-results"
    assert parameters["retrain_on_drift"].default_value.bool_value is False  # off by default
    assert parameters["psi_limit"].default_value.number_value == drift.Limits().psi
    secrets = docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert secrets["exec-monitor-drift"]["secretAsEnv"][0]["secretName"] == "aws-credentials"


def test_schedule_the_monitor_with_typed_parameters(monkeypatch, capsys):
    """The KFP server is faked (it needs a cluster): the CLI's parameters reach create_recurring_run typed."""
    from pipelines import kfp_server
    from tests.training.test_pipeline import FakeKfp

    fake = FakeKfp()
    fake.pipelines["twitter-sentiment-monitor"] = "p-0"
    fake.versions.append(("p-0", "v1", ""))
    monkeypatch.setattr(kfp_server, "connect", lambda host, kube_context=None: fake)
    code = main(["schedule", "--pipeline", "monitor", "--host", "http://kfp", "--cron", "0 0 * * * *",
                 "--param", "hours=6", "--param", "retrain_on_drift=true",
                 "--param", 'training_params={"sample_rows": 1000}'])
    assert code == 0, capsys.readouterr().err
    [run] = fake.runs
    assert run.job_name == "twitter-sentiment-monitor" and run.cron_expression == "0 0 * * * *"
    assert run.params == {"hours": 6.0, "retrain_on_drift": True, "training_params": {"sample_rows": 1000}}


def test_unreachable_dynamodb_is_one_sentence(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    from twitter_sentiment.storage import StorageError

    with pytest.raises(StorageError, match="cannot read results from DynamoDB table results"):
        read_window("dynamodb://results", *window(1, END))


def test_champion_without_a_profile_is_named(tiny_bundle, tmp_path):
    from twitter_sentiment.bundle import BundleError

    store = ModelStore(str(tmp_path / "store"))
    store.publish(tiny_bundle, "old-1")  # published before evaluations recorded a profile
    with pytest.raises(BundleError, match="champion old-1 records no profile"):
        drift.monitor("sqlite:///none", store.uri, 1, END, drift.Limits(), tmp_path / "fetch")
    with pytest.raises(BundleError, match="has no champion"):
        drift.monitor("sqlite:///none", str(tmp_path / "empty"), 1, END, drift.Limits(), tmp_path / "fetch")


@pytest.mark.slow
def test_the_monitor_calls_only_what_its_role_grants(results_table, monkeypatch):
    """The monitor pipeline's pods run as KFP's pipeline-runner service account, which infra/addons.sh binds
    to the training role (IRSA). Every DynamoDB operation the monitor really makes (recorded here against
    DynamoDB Local) must be granted on the results table, or its first run on AWS ends in AccessDenied."""
    import boto3

    from infra import policies
    from infra.config import InfraConfig

    uri = results_table(shifted())
    operations = set()
    create_client = boto3.session.Session.client

    def recording_client(self, *args, **kwargs):
        client = create_client(self, *args, **kwargs)
        prefix = client.meta.service_model.endpoint_prefix
        client.meta.events.register("before-call", lambda model, **_: operations.add(f"{prefix}:{model.name}"))
        return client

    monkeypatch.setattr(boto3.session.Session, "client", recording_client)
    assert len(read_window(uri, *window(2, END))) == 300
    resources = policies.placeholder_resources(InfraConfig(), account="123456789012", region="eu-west-1")
    granted = {action for statement in policies.training_policy(resources)["Statement"]
               if resources.results_table_arn in statement["Resource"] for action in statement["Action"]}
    assert operations == {"dynamodb:Scan"} and operations <= granted, (operations, granted)

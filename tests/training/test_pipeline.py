"""The compiled pipeline, the whole DAG under kfp.local, and the CLI."""

import subprocess
import sys
from types import SimpleNamespace

import pytest
import yaml

from pipelines import kfp_server
from pipelines.__main__ import main
from pipelines.cron import CronError, validate
from tests.helpers import ROOT
from twitter_sentiment.bundle import SentimentModel
from twitter_sentiment.classifier import ClassifierParams
from twitter_sentiment.contract import NEGATIVE_MAX, POSITIVE_MIN
from twitter_sentiment.embeddings import Word2VecParams
from twitter_sentiment.store import ModelStore

FAST = ["--sample-rows", "1500", "--param", "w2v_vector_size=16", "--param", "w2v_min_count=2",
        "--param", "w2v_epochs=2", "--param", "epochs=2", "--param", "units=8", "--param", "sequence_length=20"]


def test_compiled_yaml_is_a_valid_pipeline_spec(tmp_path):
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    out = tmp_path / "pipeline.yaml"
    assert main(["compile", "-o", str(out), "--gpu", "--model-store-uri", "s3://models/ts"]) == 0
    docs = list(yaml.safe_load_all(out.read_text()))
    spec = json_format.ParseDict(docs[0], pipeline_spec_pb2.PipelineSpec())
    tasks = spec.root.dag.tasks
    assert set(tasks) == {"fetch-dataset", "preprocess", "train-word2vec", "train-classifier", "evaluate",
                          "condition-1"}
    assert tasks["fetch-dataset"].caching_options.enable_cache is False
    assert tasks["train-classifier"].task_info.name == "Train classifier"
    assert "evaluate" in tasks["condition-1"].trigger_policy.condition
    assert spec.root.input_definitions.parameters["model_store_uri"].default_value.string_value == "s3://models/ts"
    parameters = spec.root.input_definitions.parameters
    assert parameters["tolerance"].default_value.number_value == 0.01
    assert parameters["force"].default_value.bool_value is False
    assert parameters["public_test_uri"].default_value.string_value == ""
    assert tasks["evaluate"].caching_options.enable_cache is False  # the champion may have changed since
    classifier = spec.deployment_spec["executors"]["exec-train-classifier"]["container"]
    assert classifier["resources"]["accelerator"]["resourceType"] == "nvidia.com/gpu"
    secrets = docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert {"exec-fetch-dataset", "exec-evaluate", "exec-export-model"} <= set(secrets)  # evaluate reads the champion
    assert secrets["exec-fetch-dataset"]["secretAsEnv"][0]["secretName"] == "aws-credentials"
    assert secrets["exec-train-classifier"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    # The compiled defaults are the core's: what a run from the UI trains is what the core's defaults say.
    compiled = {name: p.default_value for name, p in spec.root.input_definitions.parameters.items()}
    core = {**{f"w2v_{k}": v for k, v in Word2VecParams().as_dict().items() if k != "seed"},
            **ClassifierParams().as_dict(), "negative_max": NEGATIVE_MAX, "positive_min": POSITIVE_MIN}
    for name, value in core.items():
        field = {bool: "bool_value", str: "string_value"}.get(type(value), "number_value")
        assert getattr(compiled[name], field) == value, name


@pytest.mark.slow
def test_run_local_publishes_a_bundle_then_keeps_the_better_champion(tmp_path, capsys):
    store = tmp_path / "store"
    code = main(["run-local", "--artifacts", str(tmp_path / "art"), "--model-store", str(store),
                 "--min-accuracy", "0.0", *FAST])
    out = capsys.readouterr().out
    assert code == 0, out
    latest = ModelStore(str(store)).latest()
    assert f"published bundle: {store}/{latest}/" in out and "evaluation on" in out
    model = SentimentModel.load(store / latest)
    assert model.metadata["evaluation"]["min_accuracy"] == 0.0
    assert model.metadata["dataset"]["uri"] == "sample"
    assert "champion/challenger: no champion yet" in out

    # The second run meets a champion; a tolerance of -1 asks for 1.0 more accuracy: refused, and the run succeeds.
    code = main(["run-local", "--artifacts", str(tmp_path / "art"), "--model-store", str(store),
                 "--min-accuracy", "0.0", "--param", "tolerance=-1", *FAST])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"{latest} stays" in out and f"nothing was published: {latest} stays the champion" in out
    assert ModelStore(str(store)).versions() == [latest] and ModelStore(str(store)).latest() == latest


@pytest.mark.slow
def test_run_local_that_fails_the_gate_publishes_nothing(tmp_path, capsys):
    store = tmp_path / "store"
    code = main(["run-local", "--artifacts", str(tmp_path / "art"), "--model-store", str(store),
                 "--min-accuracy", "1.01", *FAST])
    assert code == 3
    assert "failed the accuracy gate" in capsys.readouterr().err
    assert ModelStore(str(store)).latest() is None and not store.exists()


@pytest.mark.slow
def test_run_local_with_a_missing_dataset_fails_clearly(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pipelines", "run-local", "--dataset-uri", str(tmp_path / "x.csv"),
                             "--artifacts", str(tmp_path / "art"), "--model-store", str(tmp_path / "store")],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 1
    assert "x.csv does not exist" in result.stdout + result.stderr
    assert "the training pipeline failed" in result.stderr


@pytest.mark.parametrize("cron, message", [
    ("0 2 * * *", "has 5 fields"),
    ("0 0 25 * * *", "hour 25 is outside 0-23"),
    ("0 0 2 * foo *", "is not a month or weekday name"),
    ("0 0 2 * * ?x", "is not valid"),
])
def test_bad_cron_is_refused(cron, message):
    with pytest.raises(CronError, match=message):
        validate(cron)


@pytest.mark.parametrize("cron", ["0 0 2 * * *", "*/30 * * * * *", "0 0 2 * * MON-FRI", "0 15 1,13 1 1/2 ?"])
def test_good_cron_is_kept(cron):
    assert validate(cron) == cron


def test_schedule_with_a_bad_cron_exits_2(capsys):
    assert main(["schedule", "--host", "http://127.0.0.1:1", "--cron", "0 2 * * *"]) == 2
    assert "Kubeflow wants 6, seconds first" in capsys.readouterr().err


def test_unreachable_host_is_named():
    """A real kfp.Client against a closed loopback port."""
    result = subprocess.run([sys.executable, "-m", "pipelines", "schedule", "--host", "http://127.0.0.1:9"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 1
    assert "cannot reach Kubeflow Pipelines at http://127.0.0.1:9" in result.stderr


class FakeKfp:
    """Stands in for a KFP server, which cannot run here (it needs a cluster): records what the CLI asks."""

    def __init__(self):
        self.pipelines, self.versions, self.runs, self.deleted = {}, [], [], []

    def list_experiments(self, page_size):
        return SimpleNamespace(experiments=[])

    def get_pipeline_id(self, name):
        return self.pipelines.get(name)

    def upload_pipeline(self, path, pipeline_name):
        self.pipelines[pipeline_name] = f"p-{len(self.pipelines)}"
        return SimpleNamespace(pipeline_id=self.pipelines[pipeline_name])

    def upload_pipeline_version(self, path, pipeline_version_name, pipeline_id):
        self.versions.append((pipeline_id, pipeline_version_name, open(path).read()))
        return SimpleNamespace(pipeline_version_id=f"ver-{len(self.versions)}")

    def list_pipeline_versions(self, pipeline_id, page_size, sort_by):
        mine = [f"ver-{i + 1}" for i, v in enumerate(self.versions) if v[0] == pipeline_id]
        return SimpleNamespace(pipeline_versions=[SimpleNamespace(pipeline_version_id=v) for v in reversed(mine)])

    def create_experiment(self, name):
        return SimpleNamespace(experiment_id="exp-1")

    def list_recurring_runs(self, experiment_id, page_size):
        return SimpleNamespace(recurring_runs=[r for r in self.runs if r.recurring_run_id not in self.deleted])

    def delete_recurring_run(self, recurring_run_id):
        self.deleted.append(recurring_run_id)

    def create_recurring_run(self, **kwargs):
        run = SimpleNamespace(recurring_run_id=f"run-{len(self.runs)}", display_name=kwargs["job_name"], **kwargs)
        self.runs.append(run)
        return run


def test_upload_creates_then_versions(tmp_path):
    fake, package = FakeKfp(), tmp_path / "p.yaml"
    assert main(["compile", "-o", str(package), "--model-store-uri", "s3://models/ts"]) == 0
    client = kfp_server.connect("http://kfp", lambda host: fake)
    first = kfp_server.upload(client, str(package), "twitter-sentiment-training", "v1")
    second = kfp_server.upload(client, str(package), "twitter-sentiment-training", "v2")
    assert first[0] == second[0] and [v[1] for v in fake.versions] == ["v1", "v2"]
    assert "twitter-sentiment-training" in fake.versions[0][2]


def test_schedule_twice_leaves_one_schedule(tmp_path):
    fake, package = FakeKfp(), tmp_path / "p.yaml"
    main(["compile", "-o", str(package), "--model-store-uri", "s3://models/ts"])
    client = kfp_server.connect("http://kfp", lambda host: fake)
    kfp_server.upload(client, str(package), "twitter-sentiment-training", "v1")
    for cron in ("0 0 2 * * *", "0 30 3 * * *"):
        kfp_server.schedule(client, "twitter-sentiment-training", "twitter-sentiment", "daily", cron, {"seed": 1})
    live = [r for r in fake.runs if r.recurring_run_id not in fake.deleted]
    assert len(live) == 1 and live[0].cron_expression == "0 30 3 * * *"
    assert live[0].version_id == "ver-1" and live[0].params == {"seed": 1}


def test_schedule_without_an_uploaded_pipeline_says_so():
    client = kfp_server.connect("http://kfp", lambda host: FakeKfp())
    with pytest.raises(kfp_server.KfpError, match="run `upload` first"):
        kfp_server.schedule(client, "twitter-sentiment-training", "e", "daily", "0 0 2 * * *", {})

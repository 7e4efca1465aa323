"""The pipeline as CI delivers it: compiled with real values and described for the Kubeflow UI, uploaded,
run and scheduled through the Kubernetes API server's proxy, as the GitLab agent's context allows.

The KFP server and the API server cannot run here: a stand-in answers KFP's v2beta1 REST API (the paths and
JSON kfp_server_api 2.17 sends) behind the service-proxy path, over real HTTP, to the real kfp.Client.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from tests.delivery.conftest import REPO
from tests.stub_http import StubHandler, serving

CONTEXT = "group/twitter-sentiment:twitter-sentiment"  # what GitLab names the agent's context
TOKEN = "ci:7:job-token"  # the agent's CI tunnel token form, ci:<agent id>:<job token>
# The Service's HTTP port behind the API server's proxy (kfp 2.17 kfp/client/client.py _KUBE_PROXY_PATH).
PROXY = "/k8s-proxy/api/v1/namespaces/kubeflow/services/ml-pipeline:http/proxy"
STORE = "s3://twitter-sentiment-models-111111111111-us-east-1/models/twitter-sentiment"
DATASET = "s3://twitter-sentiment-datasets-111111111111-us-east-1/sentiment140.csv"


class FakeKfp(StubHandler):
    """KFP's API server, as far as upload, run and schedule use it; it records every request."""

    state: dict

    def _route(self, method: str):
        url = urlsplit(self.path)
        body = self.body()
        state = self.state
        state["requests"].append({"method": method, "path": url.path, "auth": self.headers.get("Authorization")})
        if not url.path.startswith(PROXY + "/apis/v2beta1/"):
            return self.reply(404, {"error": "not behind the proxy path"})
        route, query = url.path[len(PROXY + "/apis/v2beta1/"):], parse_qs(url.query)
        named = json.loads(query["filter"][0])["predicates"][0]["stringValue"] if "filter" in query else None
        if route == "healthz":
            return self.reply(200, {"multi_user": False})
        if route == "experiments" and method == "GET":
            found = [e for e in state["experiments"] if named in (None, e["display_name"])]
            return self.reply(200, {"experiments": found, "total_size": len(found)})
        if route == "experiments" and method == "POST":
            experiment = {**json.loads(body), "experiment_id": f"exp-{len(state['experiments'])}"}
            state["experiments"].append(experiment)
            return self.reply(200, experiment)
        if route == "pipelines":
            found = [p for p in state["pipelines"] if p["display_name"] == named]
            return self.reply(200, {"pipelines": found, "total_size": len(found)})
        if route == "pipelines/upload":
            pipeline = {"pipeline_id": "pipe-1", "display_name": query["name"][0]}
            state["pipelines"].append(pipeline)
            return self.reply(200, pipeline)
        if route == "pipelines/upload_version":
            version = {"pipeline_id": query["pipelineid"][0], "display_name": query["name"][0],
                       "pipeline_version_id": f"ver-{len(state['versions'])}"}
            state["versions"].append(version)
            return self.reply(200, version)
        if route.startswith("pipelines/") and route.endswith("/versions"):
            return self.reply(200, {"pipeline_versions": state["versions"][::-1][:1], "total_size": 1})
        if route == "runs" and method == "POST":
            run = {**json.loads(body), "run_id": f"run-{len(state['runs'])}"}
            state["runs"].append(run)
            return self.reply(200, run)
        if route == "recurringruns" and method == "GET":
            return self.reply(200, {"recurringRuns": state["recurring"], "total_size": len(state["recurring"])})
        if route == "recurringruns" and method == "POST":
            recurring = {**json.loads(body), "recurring_run_id": f"rec-{len(state['recurring'])}"}
            state["recurring"].append(recurring)
            return self.reply(200, recurring)
        if route.startswith("recurringruns/") and method == "DELETE":
            state["recurring"] = [r for r in state["recurring"] if r["recurring_run_id"] != route.split("/")[1]]
            return self.reply(200, {})
        return self.reply(404, {"error": f"unexpected {method} {route}"})

    def do_GET(self):
        self._route("GET")

    def do_POST(self):
        self._route("POST")

    def do_DELETE(self):
        self._route("DELETE")


@pytest.fixture
def kfp_behind_agent(tmp_path, monkeypatch):
    """A KUBECONFIG like the one GitLab injects (the agent's context, a bearer token), whose API server
    is the stand-in; returns the stand-in's state."""
    state = {"requests": [], "experiments": [], "pipelines": [], "versions": [], "runs": [], "recurring": []}
    handler = type("Handler", (FakeKfp,), {"state": state})
    kubeconfig = tmp_path / "kubeconfig"
    with serving(handler) as url:
        kubeconfig.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "gitlab", "cluster": {"server": f"{url}/k8s-proxy"}}],
            "users": [{"name": "agent:7", "user": {"token": TOKEN}}],
            "contexts": [{"name": CONTEXT, "context": {"cluster": "gitlab", "user": "agent:7"}}]}))
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        monkeypatch.delenv("KFP_HOST", raising=False)
        yield state


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    from pipelines.__main__ import main

    path = tmp_path_factory.mktemp("pipeline") / "pipeline.yaml"
    assert main(["compile", "-o", str(path), "--model-store-uri", STORE, "--dataset-uri", DATASET]) == 0
    return path


def cli(*args: str) -> int:
    from pipelines.__main__ import main

    return main(list(args))


# --- point 1: KFP through the API server, no public endpoint -------------------------------------------

def test_upload_reaches_kfp_through_the_agent_context(kfp_behind_agent, package):
    assert cli("upload", "--kube-context", CONTEXT, "--version", "v1.1.0", "--package", str(package)) == 0
    requests = kfp_behind_agent["requests"]
    assert requests and all(r["path"].startswith(PROXY + "/apis/v2beta1/") for r in requests), requests[0]
    assert {r["auth"] for r in requests} == {f"Bearer {TOKEN}"}
    assert [v["display_name"] for v in kfp_behind_agent["versions"]] == ["v1.1.0"]


@pytest.mark.slow  # kfp retries its health check five times, with back-off
def test_kfp_clients_own_kube_context_mode_misses_the_proxy_path(kfp_behind_agent, monkeypatch):
    """Why connect() builds the proxied host itself: kfp.Client(kube_context=...) computes it, but the
    kubernetes 30.1 loader's refresh hook resets the host before each request (kfp 2.17 client.py
    _load_config; kubernetes/config/kube_config.py _set_config). When this fails, upstream fixed it."""
    import kfp
    from kubernetes.config import kube_config

    # The library reads KUBECONFIG once, at import (kube_config.KUBE_CONFIG_DEFAULT_LOCATION).
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", os.environ["KUBECONFIG"])
    with pytest.raises(TimeoutError, match="healthz"):  # the stand-in answers 404 off the proxy path
        kfp.Client(kube_context=CONTEXT)  # its health check goes to the stand-in's bare /k8s-proxy/apis/…
    paths = {r["path"] for r in kfp_behind_agent["requests"]}
    assert paths == {"/k8s-proxy/apis/v2beta1/healthz"}, paths


def test_a_context_without_a_token_is_refused_with_a_sentence(kfp_behind_agent, tmp_path, monkeypatch, capsys):
    config = yaml.safe_load(open(os.environ["KUBECONFIG"]))
    config["users"][0]["user"] = {"username": "admin", "password": "not-a-token"}
    (tmp_path / "basic").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "basic"))
    assert cli("upload", "--kube-context", CONTEXT, "--version", "v1", "--package", "x.yaml") == 1
    assert "has no bearer token" in capsys.readouterr().err


# --- point 11: runs named after data and code, with that metadata, in the experiment ---------------------

def test_runs_and_schedules_are_named_described_and_filed_in_the_experiment(kfp_behind_agent, package):
    from pipelines.training import EXPERIMENT

    assert cli("upload", "--kube-context", CONTEXT, "--version", "v1.1.0", "--package", str(package)) == 0
    assert cli("run", "--kube-context", CONTEXT, "--version", "v1.1.0", "--dataset-uri", DATASET) == 0
    assert cli("schedule", "--kube-context", CONTEXT, "--version", "v1.1.0", "--dataset-uri", DATASET) == 0
    assert cli("schedule", "--kube-context", CONTEXT, "--version", "v1.2.0", "--dataset-uri", DATASET) == 0

    [experiment] = kfp_behind_agent["experiments"]
    assert experiment["display_name"] == EXPERIMENT == "twitter-sentiment"
    [run] = kfp_behind_agent["runs"]
    assert run["display_name"].startswith("sentiment140.csv @ v1.1.0 ")
    assert run["description"] == f"dataset_uri: {DATASET}\ncode_version: v1.1.0"
    assert run["experiment_id"] == experiment["experiment_id"]
    assert run["pipeline_version_reference"]["pipeline_version_id"] == "ver-0"
    assert run["runtime_config"]["parameters"]["dataset_uri"] == DATASET
    [recurring] = kfp_behind_agent["recurring"]  # the v1.2.0 schedule replaced the v1.1.0 one
    assert recurring["display_name"] == "twitter-sentiment-daily: sentiment140.csv @ v1.2.0"
    assert recurring["description"] == f"dataset_uri: {DATASET}\ncode_version: v1.2.0"
    assert recurring["experiment_id"] == experiment["experiment_id"]
    assert recurring["trigger"]["cron_schedule"]["cron"] == "0 0 2 * * *"


# --- point 6: no placeholder image or bucket in a compiled pipeline --------------------------------------

def compile_in_a_fresh_process(tmp_path, **env: str) -> subprocess.CompletedProcess:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return subprocess.run([sys.executable, "-m", "pipelines", "compile", "-o", str(tmp_path / "p.yaml")],
                          cwd=REPO, env={**keep, "PYTHONPATH": str(REPO), **env}, capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.mark.slow
@pytest.mark.parametrize("missing", ["COMPONENT_IMAGE", "MODEL_STORE_URI"])
def test_compile_refuses_placeholders_with_a_sentence(tmp_path, missing):
    env = {"COMPONENT_IMAGE": "registry.example.com/g/p/components@sha256:" + "0" * 64, "MODEL_STORE_URI": STORE}
    del env[missing]
    result = compile_in_a_fresh_process(tmp_path, **env)
    assert result.returncode == 1
    assert f"{missing} is not set" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "p.yaml").exists()


def test_the_compiled_pipeline_names_the_built_image_and_the_stacks_bucket(package):
    pipeline = next(yaml.safe_load_all(package.read_text()))
    images = {e["container"]["image"] for e in pipeline["deploymentSpec"]["executors"].values()}
    assert images == {os.environ["COMPONENT_IMAGE"]}
    assert pipeline["root"]["inputDefinitions"]["parameters"]["model_store_uri"]["defaultValue"] == STORE


@pytest.mark.slow
def test_public_test_uri_from_the_environment_is_baked_in_for_scheduled_runs(tmp_path):
    """A recurring run passes only the parameters it is given (pipelines schedule): the rest are the
    uploaded version's defaults. CI compiles with its variables in the environment, so PUBLIC_TEST_URI
    must become public_test_uri's default, or daily runs never compare the models on a fixed set."""
    public = "s3://twitter-sentiment-datasets-111111111111-us-east-1/testdata.manual.2009.06.14.csv"
    env = {"COMPONENT_IMAGE": "registry.example.com/g/p/components@sha256:" + "0" * 64, "MODEL_STORE_URI": STORE,
           "DATASET_URI": DATASET, "PUBLIC_TEST_URI": public}
    result = compile_in_a_fresh_process(tmp_path, **env)
    assert result.returncode == 0, result.stderr
    parameters = next(yaml.safe_load_all((tmp_path / "p.yaml").read_text()))["root"]["inputDefinitions"]["parameters"]
    assert parameters["public_test_uri"]["defaultValue"] == public
    assert parameters["dataset_uri"]["defaultValue"] == DATASET


# --- point 5 and 4: the steps pull the private image and find dev's model store -------------------------

def test_every_step_pulls_with_the_registry_secret_and_the_s3_steps_get_the_endpoint(package):
    from pipelines.training import IMAGE_PULL_SECRET, S3_ENDPOINT_CONFIG_MAP, S3_SECRET

    docs = list(yaml.safe_load_all(package.read_text()))
    executors = docs[1]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == set(docs[0]["deploymentSpec"]["executors"])
    for name, config in executors.items():
        assert [s["secretName"] for s in config["imagePullSecret"]] == [IMAGE_PULL_SECRET], name
    for name in ("exec-fetch-dataset", "exec-export-model"):
        [config_map] = executors[name]["configMapAsEnv"]
        assert config_map["configMapName"] == S3_ENDPOINT_CONFIG_MAP and config_map["optional"] is True
        assert config_map["keyToEnv"] == [{"configMapKey": "AWS_ENDPOINT_URL_S3", "envVar": "AWS_ENDPOINT_URL_S3"}]
        assert executors[name]["secretAsEnv"][0]["secretName"] == S3_SECRET


# --- point 10: what the run form and the component docs say ----------------------------------------------

def test_every_pipeline_parameter_has_a_description_in_the_run_form(package):
    """KFP 2.17 takes each input's description from the function's docstring `Args:` (kfp/dsl/
    component_factory.py, docstring_parser) into inputDefinitions, which the UI's run form shows."""
    pipeline = next(yaml.safe_load_all(package.read_text()))
    parameters = pipeline["root"]["inputDefinitions"]["parameters"]
    assert len(parameters) >= 27
    bare = [name for name, spec in parameters.items() if len(spec.get("description", "")) < 15]
    assert not bare, f"parameters without a description: {bare}"


def test_every_component_argument_is_documented(package):
    """Inputs from the docstring's `Args:`, outputs (artifacts and return values) from its `Returns:`
    (kfp 2.17 kfp/dsl/component_factory.py, parse_docstring_with_return_as_args)."""
    pipeline = next(yaml.safe_load_all(package.read_text()))
    for name, component in pipeline["components"].items():
        if name.startswith("comp-condition"):  # KFP's own sub-DAG for dsl.If
            continue
        for side in ("inputDefinitions", "outputDefinitions"):
            for kind in ("parameters", "artifacts"):
                for argument, spec in component.get(side, {}).get(kind, {}).items():
                    assert spec.get("description"), f"{name}: {argument} is not documented"

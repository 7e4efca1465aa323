"""ci/*.sh: shellcheck-clean, and each one run here against stub kubectl, kustomize, aws and skopeo."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.delivery import stubs
from tests.delivery.conftest import GPU_IMAGE, IMAGES, MANIFESTS, REPO, find, one, run, tool

CI_SCRIPTS = sorted((REPO / "ci").glob("*.sh"))
REGISTRY = "registry.example.com/group/twitter-sentiment"
SERVING = f"{REGISTRY}/serving@sha256:{'1' * 64}"
STREAMER = f"{REGISTRY}/streamer@sha256:{'2' * 64}"
SECRETS = {"X_BEARER_TOKEN": "test-bearer-token", "AWS_ACCESS_KEY_ID": "test-access-key",
           "AWS_SECRET_ACCESS_KEY": "test-secret-key"}
PROD_RELEASE = {"AWS_REGION": "eu-west-1",
                "PREDICTOR_ROLE_ARN": "arn:aws:iam::123456789012:role/test-predictor",
                "STREAMER_ROLE_ARN": "arn:aws:iam::123456789012:role/test-streamer"}
RUNNING = {  # what the stub cluster answers when a release already runs
    "inferenceservice": {"annotations": "v1.0.0", "].image}": f"{REGISTRY}/serving@sha256:{'3' * 64}",
                         "STORAGE_URI": "s3://models-bucket/models/twitter-sentiment/20240101-000000/",
                         "Ready": "True"},
    "deployment": {"image": f"{REGISTRY}/streamer@sha256:{'4' * 64}"},
}


def test_scripts_pass_shellcheck():
    assert CI_SCRIPTS
    result = run([tool("shellcheck"), "--severity=style", *map(str, CI_SCRIPTS)])
    assert result.returncode == 0, result.stdout + result.stderr


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def cluster(tmp_path, moto_endpoint):
    """A stub cluster: run(script, **env) runs ci/<script> with the stubs first on PATH. The model store is
    real: S3 on the moto server, its LATEST holding STUB_LATEST, read by `python -m pipelines versions`."""
    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1", aws_access_key_id="test",
                      aws_secret_access_key="test")
    s3.create_bucket(Bucket="models-bucket")
    stub_dir = tmp_path / "stubs"
    stubs.install(stub_dir)
    kubectl = tool("kubectl")

    class Cluster:
        dir = stub_dir

        def state(self, state: dict) -> None:
            (stub_dir / "cluster.json").write_text(json.dumps(state))

        def run(self, script: str, cwd: Path = tmp_path, **variables: str) -> subprocess.CompletedProcess:
            s3.put_object(Bucket="models-bucket", Key="models/twitter-sentiment/LATEST",
                          Body=variables.pop("STUB_LATEST", "").encode())
            env = stubs.environment(stub_dir, kubectl, PYTHON=sys.executable, AWS_ENDPOINT_URL_S3=moto_endpoint,
                                    AWS_DEFAULT_REGION="us-east-1", **variables)
            return subprocess.run(["bash", str(REPO / "ci" / script) if "/" not in script else script],
                                  cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)

        def applied(self) -> list[list[dict]]:
            return [[d for d in yaml.safe_load_all(p.read_text()) if d]
                    for p in sorted(stub_dir.glob("applied-*.yaml"))]

        def calls(self, program: str) -> list[list[str]]:
            log = stub_dir / "calls.jsonl"
            lines = log.read_text().splitlines() if log.exists() else []
            return [c[1:] for c in map(json.loads, lines) if c[0] == program]

    return Cluster()


AGENT_CONTEXT = "group/twitter-sentiment:twitter-sentiment"  # <agent config project path>:<agent name>
REGISTRY_LOGIN = {"CI_REGISTRY": "registry.example.com", "CI_DEPLOY_USER": "gitlab+deploy-token-1",
                  "CI_DEPLOY_PASSWORD": "test-deploy-password"}


def agent_kubeconfig(path: Path, contexts=(AGENT_CONTEXT,)) -> Path:
    """A KUBECONFIG shaped like the one GitLab injects into a job: one context per authorised agent, none
    current (docs.gitlab.com/user/clusters/agent/ci_cd_workflow); the token is `ci:<agent id>:<job token>`."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "gitlab", "cluster": {"server": "https://kas.example.com/k8s-proxy"}}],
        "users": [{"name": f"agent:{i}", "user": {"token": f"ci:{i}:job-token"}} for i, _ in enumerate(contexts)],
        "contexts": [{"name": name, "context": {"cluster": "gitlab", "user": f"agent:{i}"}}
                     for i, name in enumerate(contexts)]}))
    return path


def deploy_env(overlay: str, **extra: str) -> dict[str, str]:
    release = PROD_RELEASE if overlay == "prod" else {}
    return {"OVERLAY": overlay, "CI_COMMIT_TAG": "v1.1.0", "SERVING_IMAGE": SERVING, "STREAMER_IMAGE": STREAMER,
            "MODEL_STORE_URI": "s3://models-bucket/models/twitter-sentiment", "STUB_LATEST": "20240202-120000",
            "STUB_SERVED_VERSION": "20240202-120000", "DEPLOY_FORWARD_PORT": str(free_port()),
            "DEPLOY_POLL_SECONDS": "0", **REGISTRY_LOGIN, **SECRETS, **release, **extra}


def secret_values(objects: list[dict], name: str) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in one(objects, "Secret", name)["data"].items()}


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_deploy_applies_the_digests_the_model_version_and_the_secrets(cluster, tmp_path, overlay):
    cluster.state(RUNNING)
    before = tree_digest(MANIFESTS)
    result = cluster.run("deploy.sh", **deploy_env(overlay))
    assert result.returncode == 0, result.stdout + result.stderr
    assert tree_digest(MANIFESTS) == before, "deploy fills a copy, never the repository's files"

    objects = cluster.applied()[0]  # then manifests/kubeflow/$OVERLAY
    service = one(objects, "InferenceService", "twitter-sentiment")
    container = service["spec"]["predictor"]["containers"][0]
    assert container["image"] == SERVING
    assert {e["name"]: e.get("value") for e in container["env"]}["STORAGE_URI"] == \
        "s3://models-bucket/models/twitter-sentiment/20240202-120000/"
    streamer = one(objects, "Deployment", "twitter-sentiment-streamer")
    assert streamer["spec"]["template"]["spec"]["containers"][0]["image"] == STREAMER
    assert service["metadata"]["annotations"]["twitter-sentiment/release"] == "v1.1.0"
    assert secret_values(objects, "x-api") == {"X_BEARER_TOKEN": "test-bearer-token"}
    if overlay == "dev":
        assert secret_values(objects, "aws-credentials") == {
            "AWS_ACCESS_KEY_ID": "test-access-key", "AWS_SECRET_ACCESS_KEY": "test-secret-key"}
    else:
        assert not find(objects, "Secret", "aws-credentials"), "prod uses IRSA, no keys"
        accounts = {a["metadata"]["name"]: a["metadata"]["annotations"] for a in find(objects, "ServiceAccount")}
        assert accounts["twitter-sentiment-predictor"]["eks.amazonaws.com/role-arn"] == PROD_RELEASE[
            "PREDICTOR_ROLE_ARN"]
        assert accounts["twitter-sentiment-predictor"]["serving.kserve.io/s3-region"] == "eu-west-1"
        assert accounts["twitter-sentiment-streamer"]["eks.amazonaws.com/role-arn"] == PROD_RELEASE[
            "STREAMER_ROLE_ARN"]
    assert "unreleased" not in yaml.safe_dump_all(objects)

    rollouts = [c for c in cluster.calls("kubectl") if "rollout" in c]
    assert {c[-2] for c in rollouts} == {"deployment/twitter-sentiment-predictor",
                                         "deployment/twitter-sentiment-streamer"}
    recorded = dict(line.split("=", 1) for line in (tmp_path / "deploy.env").read_text().splitlines())
    assert recorded == {"PREVIOUS_RELEASE": "v1.0.0", "DEPLOYED_MODEL_VERSION": "20240202-120000",
                        "PREVIOUS_SERVING_IMAGE": RUNNING["inferenceservice"]["].image}"],
                        "PREVIOUS_STORAGE_URI": RUNNING["inferenceservice"]["STORAGE_URI"],
                        "PREVIOUS_STREAMER_IMAGE": RUNNING["deployment"]["image"]}


def test_first_deploy_records_nothing_to_roll_back_to(cluster, tmp_path):
    cluster.state({"inferenceservice": {"Ready": "True"}})
    result = cluster.run("deploy.sh", **deploy_env("dev"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "deploy.env").read_text() == "DEPLOYED_MODEL_VERSION=20240202-120000\n"


@pytest.mark.parametrize("overlay, change, message", [  # None: the variable is not set at all
    ("dev", {"X_BEARER_TOKEN": ""}, "X_BEARER_TOKEN is not set"),
    ("dev", {"SERVING_IMAGE": f"{REGISTRY}/serving:v1.1.0"}, "not pinned by digest"),
    ("dev", {"STUB_LATEST": "../../etc"}, "not a version name"),
    ("staging", {}, "no overlay"),
    ("dev", {"STORAGE_URI": "s3://models-bucket/other/v1"}, "is not s3://BUCKET/models/twitter-sentiment/VERSION/"),
    ("prod", {"STREAMER_ROLE_ARN": None}, "STREAMER_ROLE_ARN is not set"),
    ("dev", {"CI_DEPLOY_PASSWORD": None}, "gitlab-deploy-token"),
])
def test_deploy_refuses_before_applying(cluster, tmp_path, overlay, change, message):
    cluster.state(RUNNING)
    variables = {name: value for name, value in deploy_env(overlay, **change).items() if value is not None}
    result = cluster.run("deploy.sh", **variables)
    assert result.returncode != 0
    assert message in result.stderr
    assert not cluster.applied()
    assert not (tmp_path / "deploy.env").exists(), "nothing was deployed: nothing to roll back"


def test_deploy_fails_when_the_inference_service_never_gets_ready(cluster):
    cluster.state({"inferenceservice": {"Ready": "False"}})
    result = cluster.run("deploy.sh", **deploy_env("dev", DEPLOY_TIMEOUT_SECONDS="1"))
    assert result.returncode != 0 and "was not Ready within 1s" in result.stderr


def test_deploy_is_not_fooled_by_observed_generation_drift(cluster):
    """KServe 0.21 copies status.observedGeneration from the predictor Deployment, whose generation the
    HPA moves on every scale: 3 (InferenceService) vs 7 (Deployment) is a healthy, Ready service
    (PLATFORM.md; kserve pkg/controller/v1beta1/inferenceservice/components/predictor.go)."""
    cluster.state({"inferenceservice": {"generation": "3|7|True", "Ready": "True"}})
    result = cluster.run("deploy.sh", **deploy_env("dev", DEPLOY_TIMEOUT_SECONDS="5"))
    assert result.returncode == 0, result.stderr
    assert "serving model version 20240202-120000" in result.stdout


def test_deploy_waits_for_the_predictor_to_serve_the_new_model_version(cluster):
    # Ready is still the old pods' while they serve the previous bundle: that is not this release running.
    cluster.state({"inferenceservice": {"Ready": "True"}})
    result = cluster.run("deploy.sh", **deploy_env("dev", DEPLOY_TIMEOUT_SECONDS="2",
                                                   STUB_SERVED_VERSION="20240101-000000"))
    assert result.returncode != 0
    assert "serves model version '20240101-000000', not 20240202-120000" in result.stderr
    forwards = [c for c in cluster.calls("kubectl") if "port-forward" in c]
    assert forwards and forwards[0][-2] == "svc/twitter-sentiment-predictor"


def test_deploy_selects_the_gitlab_agent_context_first(cluster, tmp_path):
    kubeconfig = agent_kubeconfig(tmp_path / "kubeconfig", ("other/project:other-agent", AGENT_CONTEXT))
    cluster.state(RUNNING)
    result = cluster.run("deploy.sh", **deploy_env("dev", KUBECONFIG=str(kubeconfig), KUBE_CONTEXT=AGENT_CONTEXT))
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(kubeconfig.read_text())["current-context"] == AGENT_CONTEXT
    calls = [c for c in cluster.calls("kubectl") if c[0] != "kustomize"]
    first_cluster_call = next(i for i, c in enumerate(calls) if "get" in c or "apply" in c)
    assert ["config", "use-context", AGENT_CONTEXT] in calls[:first_cluster_call]


def test_deploy_names_the_missing_agent_context(cluster, tmp_path):
    kubeconfig = agent_kubeconfig(tmp_path / "kubeconfig", ("other/project:other-agent",))
    result = cluster.run("deploy.sh", **deploy_env("dev", KUBECONFIG=str(kubeconfig), KUBE_CONTEXT=AGENT_CONTEXT))
    assert result.returncode == 1
    assert f"KUBE_CONTEXT {AGENT_CONTEXT} is not in the job's KUBECONFIG" in result.stderr
    assert not cluster.applied()


@pytest.mark.parametrize("overlay", ["dev", "prod"])
def test_deploy_gives_every_namespace_the_registry_pull_secret(cluster, overlay):
    """GitLab projects and their registries are private by default: the kubelet pulls with the pod's
    imagePullSecrets, a kubernetes.io/dockerconfigjson Secret in the pod's own namespace (Kubernetes docs,
    "Pull an Image from a Private Registry")."""
    cluster.state(RUNNING)
    result = cluster.run("deploy.sh", **deploy_env(overlay))
    assert result.returncode == 0, result.stderr
    applied = [o for objects in cluster.applied() for o in objects]
    secrets = {(o["metadata"]["namespace"], o["metadata"]["name"]): o for o in applied if o["kind"] == "Secret"}
    for namespace in ("twitter-sentiment", "kubeflow"):  # the pods', and the pipeline steps' (KFP standalone)
        secret = secrets[(namespace, "gitlab-registry")]
        assert secret["type"] == "kubernetes.io/dockerconfigjson"
        config = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))
        auth = base64.b64decode(config["auths"]["registry.example.com"]["auth"]).decode()
        assert auth == "gitlab+deploy-token-1:test-deploy-password"
    service = next(o for o in applied if o["kind"] == "InferenceService")
    streamer = next(o for o in applied if o["kind"] == "Deployment")
    assert service["spec"]["predictor"]["imagePullSecrets"] == [{"name": "gitlab-registry"}]
    assert streamer["spec"]["template"]["spec"]["imagePullSecrets"] == [{"name": "gitlab-registry"}]
    assert "test-deploy-password" not in result.stdout + result.stderr


# --- rollback -----------------------------------------------------------------------------------------

@pytest.fixture
def repository(tmp_path):
    """A git clone-alike holding this tree's manifests and ci/ at tag v1.0.0."""
    root = tmp_path / "repo"
    root.mkdir()
    for folder in ("manifests", "ci"):
        shutil.copytree(REPO / folder, root / folder)
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    for command in (["init", "-q"], ["add", "."], ["commit", "-qm", "v1.0.0"], ["tag", "v1.0.0"]):
        subprocess.run(git + command, check=True, capture_output=True)
    return root


def test_rollback_redeploys_the_previous_release(cluster, repository):
    cluster.state({"inferenceservice": {"Ready": "True"}})
    previous = {"PREVIOUS_RELEASE": "v1.0.0", "PREVIOUS_SERVING_IMAGE": RUNNING["inferenceservice"]["].image}"],
                "PREVIOUS_STREAMER_IMAGE": RUNNING["deployment"]["image"],
                "PREVIOUS_STORAGE_URI": RUNNING["inferenceservice"]["STORAGE_URI"]}
    result = cluster.run(str(repository / "ci" / "rollback.sh"), cwd=repository,
                         **deploy_env("dev", STUB_SERVED_VERSION="20240101-000000", **previous))
    assert result.returncode == 1, "a rollback still fails the pipeline"
    assert "v1.0.0 is running again" in result.stderr, result.stderr
    objects = cluster.applied()[0]  # then manifests/kubeflow/$OVERLAY
    service = one(objects, "InferenceService", "twitter-sentiment")
    container = service["spec"]["predictor"]["containers"][0]
    assert container["image"] == previous["PREVIOUS_SERVING_IMAGE"]
    assert {e["name"]: e.get("value") for e in container["env"]}["STORAGE_URI"] == previous["PREVIOUS_STORAGE_URI"]
    assert service["metadata"]["annotations"]["twitter-sentiment/release"] == "v1.0.0"
    assert not cluster.calls("aws"), "the previous model version is reused, LATEST is not read"


def test_rollback_reads_deploy_env_when_deploy_itself_failed(cluster, repository):
    (repository / "deploy.env").write_text(
        "PREVIOUS_RELEASE=v1.0.0\n"
        f"PREVIOUS_SERVING_IMAGE={RUNNING['inferenceservice']['].image}']}\n"
        f"PREVIOUS_STREAMER_IMAGE={RUNNING['deployment']['image']}\n"
        f"PREVIOUS_STORAGE_URI={RUNNING['inferenceservice']['STORAGE_URI']}\n")
    cluster.state({"inferenceservice": {"Ready": "True"}})
    result = cluster.run(str(repository / "ci" / "rollback.sh"), cwd=repository,
                         **deploy_env("dev", STUB_SERVED_VERSION="20240101-000000"))
    assert result.returncode == 1 and "v1.0.0 is running again" in result.stderr, result.stderr


def test_rollback_without_a_previous_release_leaves_things_alone(cluster, repository):
    result = cluster.run(str(repository / "ci" / "rollback.sh"), cwd=repository, **deploy_env("dev"))
    assert result.returncode == 1 and "PREVIOUS_RELEASE is unknown" in result.stderr
    assert not cluster.applied()


# --- smoke test ---------------------------------------------------------------------------------------

def smoke_env(labels: list[str], **extra: str) -> dict[str, str]:
    return {"STUB_LABELS": json.dumps(labels), "SMOKE_PREDICTOR_PORT": str(free_port()),
            "SMOKE_HEALTH_PORT": str(free_port()), **extra}


EXPECTED = [case["label"] for case in json.loads((REPO / "ci" / "smoke_tweets.json").read_text())]


def test_smoke_test_passes_when_labels_and_health_are_right(cluster):
    result = cluster.run("smoke_test.sh", **smoke_env(EXPECTED))
    assert result.returncode == 0, result.stdout + result.stderr
    [request] = [json.loads(line) for line in (cluster.dir / "requests.jsonl").read_text().splitlines()]
    assert request["path"] == "/v1/models/twitter-sentiment:predict"
    assert len(request["body"]["instances"]) == len(EXPECTED) and all(request["body"]["instances"])
    forwards = [c for c in cluster.calls("kubectl") if "port-forward" in c]
    assert [c[-2] for c in forwards] == ["svc/twitter-sentiment-predictor", "deployment/twitter-sentiment-streamer"]


def test_smoke_test_fails_on_a_wrong_label(cluster):
    wrong = ["NEUTRAL" if label == "POSITIVE" else label for label in EXPECTED]
    result = cluster.run("smoke_test.sh", **smoke_env(wrong))
    assert result.returncode == 1 and "expected" in result.stderr


def test_smoke_test_fails_when_the_streamer_is_unhealthy(cluster):
    result = cluster.run("smoke_test.sh", **smoke_env(EXPECTED, STUB_HEALTH="down"))
    assert result.returncode == 1 and "/healthz failed" in result.stderr


def test_smoke_tweets_are_clear_cases_of_both_labels():
    assert set(EXPECTED) == {"POSITIVE", "NEGATIVE"} and len(EXPECTED) >= 4


# --- digests ------------------------------------------------------------------------------------------

def test_resolve_digests_prints_one_pinned_reference_per_image(cluster):
    variables = {"CI_REGISTRY": "registry.example.com", "CI_REGISTRY_IMAGE": REGISTRY, "CI_COMMIT_TAG": "v1.1.0",
                 "CI_REGISTRY_USER": "ci", "CI_REGISTRY_PASSWORD": "test-password"}
    result = cluster.run("resolve_digests.sh", **variables)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split("=", 1) for line in result.stdout.splitlines())
    # The build job pushes four images; `compile --gpu` reads COMPONENT_GPU_IMAGE (components/image.py).
    assert set(lines) == {"COMPONENT_IMAGE", "SERVING_IMAGE", "STREAMER_IMAGE", "COMPONENT_GPU_IMAGE"}
    assert lines["COMPONENT_GPU_IMAGE"].startswith(f"{REGISTRY}/{GPU_IMAGE}@sha256:")
    for name in IMAGES:
        reference = next(v for v in lines.values() if v.startswith(f"{REGISTRY}/{name}@sha256:"))
        assert len(reference.split("@sha256:")[1]) == 64
    assert all("test-password" not in " ".join(c) for c in cluster.calls("skopeo")), "password via stdin only"


def test_resolve_digests_fails_when_an_image_is_missing(cluster):
    variables = {"CI_REGISTRY": "registry.example.com", "CI_REGISTRY_IMAGE": REGISTRY, "CI_COMMIT_TAG": "v1.1.0",
                 "STUB_MISSING": f"{REGISTRY}/streamer:v1.1.0"}
    result = cluster.run("resolve_digests.sh", **variables)
    assert result.returncode == 1 and "streamer:v1.1.0 is not in the registry" in result.stderr


# --- release -----------------------------------------------------------------------------------------

def test_release_notes_list_the_digests_and_the_model_version(cluster):
    variables = {"CI_COMMIT_TAG": "v1.1.0", "OVERLAY": "prod",
                 "COMPONENT_IMAGE": f"{REGISTRY}/components@sha256:{'5' * 64}",
                 "SERVING_IMAGE": SERVING, "STREAMER_IMAGE": STREAMER, "DEPLOYED_MODEL_VERSION": "20240202-120000"}
    result = subprocess.run(["sh", str(REPO / "ci" / "release_notes.sh")], env=variables, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    for value in (variables["COMPONENT_IMAGE"], SERVING, STREAMER, "20240202-120000", "v1.1.0"):
        assert value in result.stdout
    del variables["DEPLOYED_MODEL_VERSION"]
    result = subprocess.run(["sh", str(REPO / "ci" / "release_notes.sh")], env=variables, capture_output=True,
                            text=True, check=False)
    assert result.returncode != 0 and "DEPLOYED_MODEL_VERSION" in result.stderr

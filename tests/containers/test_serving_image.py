"""The serving image serving the bundle the pipeline published, as the cluster runs it: the bundle
mounted read-only at /mnt/models (where KServe's storage initializer leaves it), the predictor's
command, env, security settings, emptyDir volumes and limits all taken from the rendered prod
manifests (tests/containers/pods.py)."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.containers.conftest import docker, serving_container
from tests.containers.pods import grace_seconds, predictor_spec
from twitter_sentiment.contract import MODEL_NAME, predict_path

pytestmark = pytest.mark.slow

TWEETS = ["I love this phone, best purchase ever!", "worst customer service i have ever had #fail",
          "just landed in boston"]


@pytest.fixture(scope="module")
def served(images, pipeline_run):
    """The container, running; yields (base URL, container name, predictor spec, bundle directory)."""
    from twitter_sentiment.store import ModelStore

    _, store_dir = pipeline_run
    bundle = store_dir / ModelStore(str(store_dir)).latest()
    with serving_container(images["serving"], bundle) as (url, name, pod):
        yield url, name, pod, bundle


def expected(bundle, texts):
    from twitter_sentiment.bundle import SentimentModel

    return SentimentModel.load(bundle).predict(texts)


def test_v1_v2_and_predict_answer_with_the_bundles_scores(served):
    url, _, _, bundle = served
    want = expected(bundle, TWEETS)
    v1 = httpx.post(url + predict_path(MODEL_NAME), json={"instances": TWEETS}, timeout=30)
    assert v1.status_code == 200, v1.text
    assert [p["label"] for p in v1.json()["predictions"]] == [p.label for p in want]
    assert [p["score"] for p in v1.json()["predictions"]] == pytest.approx([p.score for p in want], abs=1e-5)
    v2 = httpx.post(f"{url}/v2/models/{MODEL_NAME}/infer", timeout=30, json={
        "inputs": [{"name": "text", "shape": [len(TWEETS)], "datatype": "BYTES", "data": TWEETS}]})
    assert v2.status_code == 200, v2.text
    outputs = {o["name"]: o["data"] for o in v2.json()["outputs"]}
    assert outputs["label"] == [p.label for p in want]
    one = httpx.post(url + "/predict", json={"text": TWEETS[0]}, timeout=30)
    assert one.status_code == 200, one.text
    assert one.json()["label"] == want[0].label


def test_liveness_and_readiness_probes_answer(served):
    url, _, _, _ = served
    _, container = predictor_spec()
    for probe in ("readinessProbe", "livenessProbe"):
        response = httpx.get(url + container[probe]["httpGet"]["path"], timeout=10)
        assert response.status_code == 200, (probe, response.text)


def test_runs_with_a_read_only_root_and_no_capabilities(served):
    _, name, _, _ = served
    state = json.loads(docker("inspect", name).stdout)[0]["HostConfig"]
    assert state["ReadonlyRootfs"] is True and state["CapDrop"] == ["ALL"]
    assert "no-new-privileges" in state["SecurityOpt"]
    status = docker("exec", name, "sh", "-c", "touch /app/x 2>&1; id -u; grep CapEff /proc/1/status").stdout
    assert "Read-only file system" in status and "\n10001\n" in f"\n{status}"
    assert status.strip().endswith("0000000000000000"), status


def test_its_prestop_hook_runs_in_the_image(served):
    """The kubelet runs the preStop command inside the container; a command the image lacks fails only as
    an event (FailedPreStopHook), and the pod then stops at once."""
    _, name, _, _ = served
    _, container = predictor_spec()
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    result = docker("exec", name, *command, check=False, timeout=60)
    assert result.returncode == 0, result.stderr


def test_sigterm_stops_it_within_the_grace_period(served):
    _, name, pod, _ = served
    # docker stop: SIGTERM, then SIGKILL once the grace period is over, as the kubelet does.
    docker("stop", "--time", str(grace_seconds(pod)), name)
    state = json.loads(docker("inspect", name).stdout)[0]["State"]
    assert state["ExitCode"] != 137 and not state["OOMKilled"], state

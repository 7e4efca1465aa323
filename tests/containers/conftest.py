"""Docker as a real part, like DynamoDB Local: the daemon (the running one, or a private one that the
session starts and stops: images/dockerd.sh) and the project's images, built once per session with
`images/build.sh` (a warm build cache makes that seconds)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import uuid

import pytest

from tests.containers.pods import environment, predictor_spec, run_flags
from tests.helpers import ROOT, free_port, wait_for_http

PREFIX, TAG = "twitter-sentiment", "local"  # images/build.sh's defaults
IMAGES = ("components", "serving", "streamer")


def image(name: str) -> str:
    return f"{PREFIX}/{name}:{TAG}"


def docker(*args: str, check: bool = True, timeout: float = 600, **kwargs) -> subprocess.CompletedProcess:
    """The docker CLI against the session's daemon; output as text."""
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return result


def _unavailable(message: str):
    """Skip where Docker is missing; fail under CI, where the container tests are part of the run."""
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {message}")
    pytest.skip(message)


def _reachable() -> bool:
    return subprocess.run(["docker", "version"], capture_output=True, timeout=30).returncode == 0


@pytest.fixture(scope="session")
def docker_daemon():
    """DOCKER_HOST of a reachable daemon; a private one (root, dockerd from Debian's docker.io) if none runs."""
    if os.environ.get("CONTAINER_TESTS") == "skip":
        # A job that has no Docker by design says so (GitLab's test job: .gitlab-ci.yml); CI alone does not.
        pytest.skip("CONTAINER_TESTS=skip: this job has no Docker daemon (its images are tested where they run)")
    if not shutil.which("docker"):
        _unavailable("the docker CLI is not installed (apt-get install docker.io)")
    if _reachable():
        yield os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        return
    if not shutil.which("dockerd") or os.geteuid() != 0:
        _unavailable("no Docker daemon is reachable and this user cannot start one (dockerd, as root)")
    started = subprocess.run([str(ROOT / "images" / "dockerd.sh"), "start"], capture_output=True, text=True,
                             timeout=120)
    assert started.returncode == 0, started.stderr
    host, *launched = started.stdout.split()  # "started" when this call launched it: then it is ours to stop
    before = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = host  # the CLI, docker-py and kfp.local.DockerRunner all read it
    try:
        yield host
    finally:
        if before is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = before
        if launched:
            subprocess.run([str(ROOT / "images" / "dockerd.sh"), "stop"], timeout=60, check=False)


def build(*names: str) -> str:
    result = subprocess.run([str(ROOT / "images" / "build.sh"), *names], capture_output=True, text=True,
                            timeout=3600, cwd=ROOT)
    assert result.returncode == 0, f"images/build.sh {' '.join(names)} failed:\n{result.stderr[-5000:]}"
    return result.stdout


@pytest.fixture(scope="session")
def images(docker_daemon) -> dict[str, str]:
    """The three images, built from this checkout (what `make images` builds)."""
    print(build(*IMAGES))
    return {name: image(name) for name in IMAGES}


# The pipeline's parameters for a slice of the sample: seconds per step, and the gate always opens.
TINY_RUN = {"dataset_uri": "sample", "sample_rows": 1500, "w2v_vector_size": 16, "w2v_min_count": 2,
            "w2v_epochs": 3, "w2v_workers": 1, "sequence_length": 20, "units": 8, "epochs": 2, "batch_size": 128,
            "min_accuracy": 0.0, "version": "containers-test"}


@pytest.fixture(scope="session")
def pipeline_run(images, tmp_path_factory):
    """The training pipeline under kfp.local.DockerRunner: every step in the components image (tagged
    with the name the pipeline's steps ask for), without network, publishing to a store in the
    pipeline root. Returns (pipeline root, store directory)."""
    from kfp import local

    from components.image import COMPONENT_IMAGE
    from pipelines.training import training_pipeline

    docker("tag", images["components"], COMPONENT_IMAGE)
    root = tmp_path_factory.mktemp("pipeline-root")
    root.chmod(0o777)  # the steps run as the image's user 10001; the root is bind-mounted at the same path
    store = root / "model-store"
    local.init(runner=local.DockerRunner(network_mode="none"), pipeline_root=str(root))
    try:
        training_pipeline(model_store_uri=str(store), **TINY_RUN)
    finally:
        docker("rmi", COMPONENT_IMAGE, check=False)  # the tag only
    return root, store


def image_user(tag: str) -> str:
    return json.loads(docker("image", "inspect", tag).stdout)[0]["Config"]["User"]


@contextlib.contextmanager
def serving_container(tag: str, bundle):
    """The serving image as the predictor pod runs it (command, env, security, volumes, limits from the
    rendered prod manifests), `bundle` mounted read-only at /mnt/models as KServe's storage initializer
    leaves it. Yields (base URL, container name, predictor pod spec) once the readiness probe answers."""
    pod, container = predictor_spec()
    port = free_port()
    name = f"ts-serving-{uuid.uuid4().hex[:8]}"
    # The pod has its own network namespace; here it shares the host's, so the port moves to a free one.
    env = environment(container, {"STORAGE_URI": "/mnt/models", "HTTP_PORT": str(port)})
    command = container["command"] + container.get("args", [])
    docker("run", "--detach", "--name", name, "--network", "host", *run_flags(pod, container, image_user(tag)),
           *env, "--volume", f"{bundle}:/mnt/models:ro", "--entrypoint", command[0], tag, *command[1:])
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(url + container["readinessProbe"]["httpGet"]["path"], timeout=180)
        yield url, name, pod
    finally:
        logs = docker("logs", name, check=False)
        print(f"--- {name}\n{logs.stdout[-5000:]}{logs.stderr[-5000:]}")
        docker("rm", "--force", name, check=False)

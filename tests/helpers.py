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


def train_tiny_bundle(directory: Path, rows: int = 1500, version: str = "test-tiny") -> Path:
    """A real bundle from a slice of the embedded sample, small enough to train in seconds."""
    from twitter_sentiment import training
    from twitter_sentiment.bundle import update_metadata
    from twitter_sentiment.classifier import preset
    from twitter_sentiment.embeddings import Word2VecParams

    work = directory.parent / f"{directory.name}-work"
    work.mkdir(parents=True, exist_ok=True)
    report = training.fetch("sample", str(work / "raw.csv"), sample_rows=rows, seed=7)
    training.preprocess(str(work / "raw.csv"), str(work / "train.csv"), str(work / "val.csv"), str(work / "test.csv"))
    training.word2vec(str(work / "train.csv"), str(work / "w2v.bin"),
                      Word2VecParams(vector_size=16, min_count=2, epochs=3, workers=1))
    training.classifier(str(work / "train.csv"), str(work / "val.csv"), str(work / "w2v.bin"), str(directory),
                        preset("default", sequence_length=20, units=8, epochs=2, batch_size=128),
                        metadata={"dataset": {"uri": "sample", "fingerprint": report.fingerprint}})
    update_metadata(directory, {"version": version})
    return directory


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
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
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
                 env={"STORAGE_URI": str(storage_uri), "MODEL_NAME": model_name, **(env or {})},
                 log_path=log_path, timeout=120):
        yield url

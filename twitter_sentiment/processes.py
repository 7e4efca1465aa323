"""Local processes the quickstart, the benchmarks and the tests start: run one until it is ready, stop it.

The model server (`python -m serving`) and a moto server are started here; DynamoDB Local is in
`twitter_sentiment.dynamodb_local`. Every server binds 127.0.0.1 on a free port and is stopped when
its `with` block ends, whatever happened inside.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from twitter_sentiment.contract import MODEL_NAME, ready_path

ROOT = Path(__file__).resolve().parents[1]  # the checkout: `python -m serving` runs from here


class NotReady(RuntimeError):
    """A started process exited, or did not become ready in time; the message says which."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def stop(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def wait_until(ready: Callable[[], bool], what: str, timeout: float = 60.0,
               process: subprocess.Popen | None = None) -> None:
    """Poll `ready` until it holds; NotReady if `process` exits first or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process is not None and process.poll() is not None:
            raise NotReady(f"{what} exited with status {process.returncode} before it was ready")
        if time.monotonic() > deadline:
            raise NotReady(f"{what} was not ready after {timeout:.0f} s")
        time.sleep(0.1)


def wait_for_http(url: str, timeout: float = 60.0, process: subprocess.Popen | None = None) -> None:
    wait_until(lambda: http_ok(url), url, timeout, process)


@contextlib.contextmanager
def running(cmd: list[str], ready: Callable[[], bool] | str, *, env: dict | None = None,
            log_path: Path | None = None, timeout: float = 60.0, cwd: Path = ROOT,
            what: str | None = None) -> Iterator[subprocess.Popen]:
    """Run `cmd` until the block ends; yields the process once `ready` (a check, or a URL answering 200) holds."""
    check = (lambda: http_ok(ready)) if isinstance(ready, str) else ready
    with contextlib.ExitStack() as stack:
        log = stack.enter_context(open(log_path, "wb")) if log_path else subprocess.DEVNULL
        process = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
                                   cwd=cwd)
        stack.callback(stop, process)
        wait_until(check, what or " ".join(cmd[:3]), timeout, process)
        yield process


@contextlib.contextmanager
def model_server(storage_uri: str | Path, *, env: dict | None = None, log_path: Path | None = None,
                 model_name: str = MODEL_NAME, port: int | None = None, timeout: float = 180.0,
                 root: Path = ROOT) -> Iterator[str]:
    """The real KServe model server (`python -m serving`) on loopback; yields its base URL once the model is ready.

    `root`: the checkout whose `serving` runs (another one's: bench/streamer.py --against)."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    with running([sys.executable, "-m", "serving", "--http_port", str(port)], f"{url}{ready_path(model_name)}",
                 env={"STORAGE_URI": str(storage_uri), "MODEL_NAME": model_name, "HTTP_HOST": "127.0.0.1",
                      **({"PYTHONPATH": str(root)} if root != ROOT else {}), **(env or {})},
                 log_path=log_path, timeout=timeout, what="the model server", cwd=root):
        yield url


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """A moto server process on loopback: a real S3 and DynamoDB HTTP endpoint. Yields its URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)], f"{url}/moto-api/",
                 what="the moto server"):
        yield url

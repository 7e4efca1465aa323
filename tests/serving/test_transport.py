"""Hostile clients at the transport level, against the real `python -m serving` process (issue 13.3-4):
bodies over the limit, clients that go away mid-body, clients that stall in the head or the body.

Each test waits for the server's answer with a generous socket timeout and asserts what the answer is,
never how long it took.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from contextlib import closing

import httpx
import pytest

from tests.helpers import model_server

pytestmark = pytest.mark.slow

MODEL = "twitter-sentiment"
V1 = f"/v1/models/{MODEL}:predict"
READ_SECONDS = 2  # REQUEST_READ_SECONDS of the server under test
LIMIT = 4_000_000  # MAX_BODY_BYTES: a body over it must also overflow loopback's socket buffers
WAIT = 60  # how long a test waits for the server's answer (a loaded machine is slow, never this slow)
ENV = {"MAX_INSTANCES": "8", "MAX_TEXT_LENGTH": "280", "MAX_BODY_BYTES": str(LIMIT),
       "REQUEST_READ_SECONDS": str(READ_SECONDS)}


@pytest.fixture(scope="module")
def server(tiny_bundle, tmp_path_factory):
    log_path = tmp_path_factory.mktemp("transport") / "server.log"
    with model_server(tiny_bundle, env=ENV, log_path=log_path) as url:
        yield url, log_path


def address(url: str) -> tuple[str, int]:
    host, port = url.removeprefix("http://").split(":")
    return host, int(port)


def connect(url: str) -> socket.socket:
    sock = socket.create_connection(address(url), timeout=WAIT)
    return sock


def head(path: str, length: int, *extra: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: test", "Content-Type: application/json",
             f"Content-Length: {length}", *extra]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a reset counts as closed)."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    return data


def still_serving(url: str) -> None:
    assert httpx.get(f"{url}/v2/health/ready", timeout=WAIT).status_code == 200
    assert httpx.post(f"{url}{V1}", json={"instances": ["still here"]}, timeout=WAIT).status_code == 200


def test_urllib_reads_the_413_for_a_body_over_the_limit(server):
    """Issue 13.3: the 413 used to be written and the socket closed before the body was read, so
    urllib (which sends the whole body first) saw a connection reset instead of the answer."""
    body = json.dumps({"instances": ["x"], "padding": "y" * 10_000_000}).encode()
    request = urllib.request.Request(f"{server[0]}{V1}", data=body, headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=WAIT)
    assert caught.value.code == 413
    assert f"the limit is {LIMIT} bytes (MAX_BODY_BYTES)" in json.loads(caught.value.read())["error"]
    still_serving(server[0])


def test_a_client_that_asks_to_continue_gets_the_413_without_sending_its_body(server):
    with closing(connect(server[0])) as sock:
        sock.sendall(head(V1, 50_000_000, "Expect: 100-continue"))
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"request body is 50000000 bytes" in answer


def test_a_chunked_body_over_the_limit_gets_a_413(server):
    def chunks():
        yield b'{"instances": ["'
        for _ in range(LIMIT // 10_000 + 1):
            yield b"x" * 10_000
        yield b'"]}'

    response = httpx.post(f"{server[0]}{V1}", content=chunks(), headers={"content-type": "application/json"},
                          timeout=WAIT)
    assert response.status_code == 413
    assert f"the limit is {LIMIT} bytes (MAX_BODY_BYTES)" in response.json()["error"]


def test_a_chunked_body_under_the_limit_is_served(server):
    response = httpx.post(f"{server[0]}{V1}", content=iter([b'{"instances": ', b'["hello"]}']),
                          headers={"content-type": "application/json"}, timeout=WAIT)
    assert response.status_code == 200, response.text


def log_lines(server, text: str) -> list[str]:
    return [line for line in server[1].read_text().splitlines() if text in line]


def test_clients_that_go_away_mid_body_cost_one_log_line_each(server):
    """Issue 13.4: each such client used to produce two ERROR tracebacks (about 120 lines)."""
    gone = "the client closed the connection before sending its whole body"
    before = len(log_lines(server, gone))
    for _ in range(5):
        with closing(connect(server[0])) as sock:
            sock.sendall(head(V1, 1000) + b'{"instances": ["half')
    deadline = time.monotonic() + WAIT
    while len(log_lines(server, gone)) < before + 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    still_serving(server[0])
    assert len(log_lines(server, gone)) == before + 5
    log = server[1].read_text()
    assert "Traceback" not in log and " ERROR " not in log


def test_a_stalled_body_gets_a_408_and_its_connection_closed(server):
    with closing(connect(server[0])) as sock:
        sock.sendall(head(V1, 1000) + b'{"instances": ["slow')
        answer = read_all(sock)  # returns once the server closes the connection
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert f"request body not received within {READ_SECONDS} s (REQUEST_READ_SECONDS)".encode() in answer
    still_serving(server[0])


def test_connections_that_never_finish_a_request_head_are_closed(server):
    """Issue 13.4: 800 such connections used to be held for as long as the clients liked."""
    socks = [connect(server[0]) for _ in range(40)]
    try:
        for i, sock in enumerate(socks):
            if i % 2:  # half send part of a head; the other half nothing at all
                sock.sendall(b"POST " + V1.encode() + b" HTTP/1.1\r\nHost: test\r\nContent-Le")
        answers = [read_all(sock) for sock in socks]  # each returns once the server closes it
    finally:
        for sock in socks:
            sock.close()
    assert answers == [b""] * len(socks)
    still_serving(server[0])

"""A stand-in for the X API v2 filtered stream, serving recorded stream bytes over real HTTP (a mock: the X
API cannot be reached from here). It behaves as the live stream does: each line is sent once, to whichever
connection is open, and a reconnect does not get back what was already sent unless it asks for
`backfill_minutes` (then everything sent so far comes again, first: X's backfill also duplicates).

Endpoints, as documented at https://docs.x.com/x-api/posts/filtered-stream/introduction:
`GET/POST /2/tweets/search/stream/rules` and `GET /2/tweets/search/stream` (chunked, `\\r\\n` lines,
keep-alive blank lines while there is nothing to send).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from urllib.parse import parse_qs, urlsplit

from tests.stub_http import StubHandler, serving

SENT = "2026-05-04T08:59:58.120Z"


class RecordedStream:
    def __init__(self, lines: list[bytes]):
        self.lines = lines  # each without its \r\n
        self.allowed = 0  # lines the stream may send so far: a test opens the gate step by step
        self.position = 0  # lines sent so far, over all connections
        self.connections: list[dict] = []  # the query of each stream connection
        self.rules: list[dict] = []
        self.lock = threading.Lock()
        self._hang_up = threading.Event()

    def hang_up(self) -> None:
        """End the open connection as X does for an operational disconnect: the client must reconnect."""
        self._hang_up.set()

    def next_line(self) -> bytes | None:
        with self.lock:
            if self.position >= min(self.allowed, len(self.lines)):
                return None
            self.position += 1
            return self.lines[self.position - 1]


@contextlib.contextmanager
def recorded_x_api(stream: RecordedStream):
    """Serve `stream` on a loopback port; yields the base URL (for the streamer's X_API_URL)."""

    class Handler(StubHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            url = urlsplit(self.path)
            if url.path == "/2/tweets/search/stream/rules":
                rules = stream.rules
                self.reply(200, {"data": rules, "meta": {"sent": SENT, "result_count": len(rules)}} if rules
                           else {"meta": {"sent": SENT, "result_count": 0}})
            elif url.path == "/2/tweets/search/stream":
                self._stream(parse_qs(url.query))
            else:
                self.reply(404, {"title": "Not Found Error"})

        def do_POST(self):
            body = json.loads(self.body() or b"{}")
            if "add" in body:
                added = [{"id": str(1798310211146543104 + n), **rule} for n, rule in enumerate(body["add"])]
                stream.rules += added
                self.reply(201, {"data": added, "meta": {"sent": SENT, "summary": {"created": len(added)}}})
            else:
                ids = set(body.get("delete", {}).get("ids", []))
                stream.rules = [rule for rule in stream.rules if rule["id"] not in ids]
                self.reply(200, {"meta": {"sent": SENT, "summary": {"deleted": len(ids)}}})

        def _stream(self, query: dict) -> None:
            stream.connections.append(query)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            if "backfill_minutes" in query:  # what was sent before comes again
                with stream.lock:
                    again = stream.lines[:stream.position]
                for raw in again:
                    self._chunk(raw + b"\r\n")
            try:
                while True:
                    if stream._hang_up.is_set():
                        stream._hang_up.clear()
                        self.wfile.write(b"0\r\n\r\n")  # the chunked body ends: a clean close
                        self.close_connection = True
                        return
                    raw = stream.next_line()
                    if raw is None:
                        self._chunk(b"\r\n")  # keep-alive
                        time.sleep(0.1)
                    else:
                        self._chunk(raw + b"\r\n")
            except (BrokenPipeError, ConnectionResetError):  # the client went away (or was killed)
                return

        def _chunk(self, data: bytes) -> None:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    with serving(Handler) as url:
        yield url

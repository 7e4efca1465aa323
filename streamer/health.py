"""Counters on a Prometheus endpoint, `/healthz`: is the source, the model server, the sink reachable,
and `/livez`: is the streamer making progress.

`/livez` fails only when tweets have waited `STALL_SECONDS` with nothing stored: a probe on `/healthz`
would restart the streamer whenever the model server is down for a moment, which no restart fixes; a
long stall (a wrong address, a stuck connection) may be, and the journal keeps the waiting tweets.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = logging.getLogger(__name__)

Check = Callable[[], tuple[bool, str]]


class Metrics:
    """The streamer's counters, in a registry of their own (several pipelines can live in one test process)."""

    def __init__(self):
        self.registry = registry = CollectorRegistry()
        self.received = Counter("streamer_tweets_received", "Tweets (and unreadable lines) taken from the source",
                                registry=registry)
        self.scored = Counter("streamer_tweets_scored", "Tweets scored by the model server", registry=registry)
        self.stored = Counter("streamer_tweets_stored", "Items written to the sink (scored, rejected or unscored)",
                              registry=registry)
        self.rejected = Counter("streamer_tweets_rejected", "Bad tweets, stored as REJECTED with the reason",
                                ["reason"], registry=registry)
        self.unscored = Counter("streamer_tweets_unscored",
                                "Tweets stored as UNSCORED: received but not scored by the shutdown deadline",
                                registry=registry)
        self.unstored = Counter("streamer_tweets_unstored",
                                "Items no sink took by the shutdown deadline (logged in full)", registry=registry)
        self.recovered = Counter("streamer_tweets_recovered",
                                 "Tweets a crashed process received and did not store, read back from the journal",
                                 registry=registry)
        self.retried = Counter("streamer_retries", "Retried requests", ["target"], registry=registry)
        self.stream_errors = Counter("streamer_stream_errors", "Error messages and connection errors from the stream",
                                     ["kind"], registry=registry)
        self.shadow = Counter("streamer_shadow_tweets", "Sampled tweets sent to the shadow model server, by outcome "
                              "(agreed, disagreed with the stored label; failed; dropped while it was busy)",
                              ["outcome"], registry=registry)
        self.shadow_agreement = Gauge("streamer_shadow_agreement_rate",
                                      "Share of compared tweets the shadow model labels as the served one",
                                      registry=registry)
        self.shadow_score_difference = Histogram(
            "streamer_shadow_score_difference", "|served score - shadow score| per compared tweet",
            buckets=(0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0), registry=registry)
        self.queue_depth = Gauge("streamer_queue_depth", "Tweets waiting to be scored", registry=registry)
        self.batch_size = Histogram("streamer_batch_size", "Tweets per model server request",
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024), registry=registry)
        self.batch_seconds = Histogram("streamer_batch_seconds", "Time to score and store one batch",
                                       registry=registry)

    def value(self, name: str, **labels) -> float:
        """A sample's current value (0 if never set): for the final summary and for tests."""
        return self.registry.get_sample_value(name, labels) or 0.0

    def total(self, name: str) -> float:
        """Sum of a labelled counter over its labels."""
        return sum(sample.value for metric in self.registry.collect() for sample in metric.samples
                   if sample.name == name)


class HealthServer:
    """`/healthz` (200 when every check passes, else 503; JSON says which), `/livez` and `/metrics`."""

    def __init__(self, port: int, checks: dict[str, Check], metrics: Metrics, host: str = "0.0.0.0",  # nosec B104: kubelet probes reach the pod IP
                 alive: Check = lambda: (True, "alive")):
        self.checks, self.metrics = checks, metrics
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path.split("?")[0] == "/healthz":
                    healthy, report = server.report()
                    self._answer(200 if healthy else 503, "application/json", json.dumps(report).encode())
                elif self.path.split("?")[0] == "/livez":
                    ok, detail = alive()
                    body = json.dumps({"status": "alive" if ok else "stalled", "detail": detail}).encode()
                    self._answer(200 if ok else 503, "application/json", body)
                elif self.path.split("?")[0] == "/metrics":
                    self._answer(200, CONTENT_TYPE_LATEST, generate_latest(metrics.registry))
                else:
                    self._answer(404, "text/plain", b"not found\n")

            def _answer(self, status: int, content_type: str, body: bytes):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):  # probes every few seconds would drown the log
                pass

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._pool = ThreadPoolExecutor(max_workers=len(checks) or 1, thread_name_prefix="health")
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="health", daemon=True)

    def report(self) -> tuple[bool, dict]:
        # The checks run side by side: one slow dependency does not make the probe time out on all three.
        futures = {name: self._pool.submit(check) for name, check in self.checks.items()}
        report = {}
        for name, future in futures.items():
            try:
                ok, detail = future.result(timeout=5)
            except Exception as error:  # noqa: BLE001  (a check that fails in any way means "not reachable")
                ok, detail = False, f"{type(error).__name__}: {error}"
            report[name] = {"reachable": ok, "detail": detail}
        healthy = all(part["reachable"] for part in report.values())
        return healthy, {"status": "ok" if healthy else "unavailable", **report}

    def start(self) -> HealthServer:
        self._thread.start()
        log.info("health and metrics on port %d: /healthz, /metrics", self.port)
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._pool.shutdown(wait=False)

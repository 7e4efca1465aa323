"""The pipeline: source -> bounded queue -> workers (micro-batch, score, store) -> sink.

Back-pressure: the queue is bounded; while the model server or the sink is down, workers retry,
the queue fills and the source blocks, so tweets wait instead of being dropped. Shutdown: stop
reading, finish what was received, flush, within the grace period; anything that still could not be
scored by the deadline is stored as UNSCORED, and anything no sink takes is logged in full.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass

from streamer.health import Metrics
from streamer.records import REJECTED, Received, rejected_item, unscored_item
from streamer.scorer import Aborted, ModelClient
from streamer.sinks import unstored

log = logging.getLogger(__name__)

WORKERS = 4  # batches in flight at once: one is scored while others are stored
SOURCE_STOP_SECONDS = 2.0  # how long the source gets to stop reading before late tweets are spilled


@dataclass
class Summary:
    received: int
    scored: int
    rejected: int
    stored: int
    unscored: int
    unstored: int
    seconds: float
    source_error: str | None = None

    @property
    def complete(self) -> bool:
        """Every received tweet is in the sink (scored, rejected or unscored)."""
        return self.unstored == 0 and self.stored >= self.received


class Pipeline:
    def __init__(self, source, model: ModelClient, sink, metrics: Metrics, *, batch_size: int = 64,
                 batch_max_wait_ms: int = 50, queue_size: int = 10000, grace_seconds: float = 25.0,
                 workers: int = WORKERS):
        self.source, self.model, self.sink, self.metrics = source, model, sink, metrics
        self.batch_size, self.batch_wait = batch_size, batch_max_wait_ms / 1000
        self.grace_seconds, self.workers = grace_seconds, workers
        self.queue: queue.Queue[Received] = queue.Queue(maxsize=queue_size)
        self.abort = model.abort  # one deadline for every retry loop
        self.stop_requested = threading.Event()
        self._stop_time: float | None = None
        self._accepting = True
        self._emitting = 0
        self._lock = threading.Lock()
        self._source_error: str | None = None
        self._in_flight: dict[int, list[Received]] = {}  # each worker's batch, until it is stored
        metrics.queue_depth.set_function(self.queue.qsize)

    # --- the source side --------------------------------------------------------------------------
    def emit(self, tweet: Received) -> None:
        """Called by the source for each tweet; blocks while the queue is full (back-pressure)."""
        self.metrics.received.inc()
        if not tweet.scorable:
            self.metrics.rejected.labels(tweet.reason).inc()
            log.warning("rejected tweet %s (%s: %s)", tweet.id, tweet.reason, tweet.detail)
        with self._lock:
            late = not self._accepting
            if not late:
                self._emitting += 1
        if late:  # a live stream may deliver one more line after shutdown began
            self._spill([tweet], "arrived after shutdown began")
            return
        try:
            while not self.abort.is_set():
                try:
                    self.queue.put(tweet, timeout=0.2)
                    return
                except queue.Full:
                    continue
            self._spill([tweet], "queue full at the shutdown deadline")
        finally:
            with self._lock:
                self._emitting -= 1

    def request_stop(self) -> None:
        """SIGTERM: start the shutdown clock (safe to call from a signal handler)."""
        if self._stop_time is None:
            self._stop_time = time.monotonic()
        self.stop_requested.set()

    # --- the workers -------------------------------------------------------------------------------
    def _finished(self) -> bool:
        # Order matters: no new emit can start once not accepting; then no emit is mid-put; then empty.
        return not self._accepting and self._emitting == 0 and self.queue.empty()

    def _take_batch(self) -> list[Received]:
        """Up to batch_size tweets, waiting at most batch_max_wait_ms after the first."""
        try:
            batch = [self.queue.get(timeout=0.1)]
        except queue.Empty:
            return []
        deadline = time.monotonic() + self.batch_wait
        while len(batch) < self.batch_size:
            remaining = deadline - time.monotonic()
            try:
                batch.append(self.queue.get(timeout=remaining) if remaining > 0 else self.queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _work(self) -> None:
        # Past the deadline a worker takes no new batch: what is left is spilled at once by run().
        while not self.abort.is_set():
            batch = self._take_batch()
            if batch:
                self._in_flight[threading.get_ident()] = batch
                try:
                    self._process(batch)
                finally:
                    self._in_flight.pop(threading.get_ident(), None)
            elif self._finished():
                return

    def _process(self, batch: list[Received]) -> None:
        started = time.perf_counter()
        scorable = [tweet for tweet in batch if tweet.scorable]
        items = [rejected_item(tweet) for tweet in batch if not tweet.scorable]
        if scorable:
            self.metrics.batch_size.observe(len(scorable))
            try:
                scored = self.model.score(scorable)
            except Aborted as error:
                log.warning("%d tweets not scored: %s", len(scorable), error)
                self._spill(scorable, "model server unavailable at the shutdown deadline")
                scored = []
            refused = [item for item in scored if item["sentiment"] == REJECTED]
            for _ in refused:
                self.metrics.rejected.labels("model_server_refused").inc()
            self.metrics.scored.inc(len(scored) - len(refused))
            items += scored
        self._store(items)
        self.metrics.batch_seconds.observe(time.perf_counter() - started)

    def _store(self, items: list[dict]) -> None:
        if not items:
            return
        try:
            stored = self.sink.write(items)
            self.metrics.stored.inc(stored)
            self.metrics.unstored.inc(len(items) - stored)  # refused outright by the sink, logged in full
        except Aborted as error:
            self.metrics.stored.inc(error.stored)
            self.metrics.unstored.inc(len(error.pending))
            unstored(error.pending, str(error))

    def _spill(self, tweets: list[Received], why: str) -> None:
        """Store tweets that will not be scored as UNSCORED, without overwriting a stored result."""
        if not tweets:
            return
        items = [unscored_item(tweet, why) for tweet in tweets]
        try:
            self.metrics.stored.inc(self.sink.write_absent(items))
            self.metrics.unscored.inc(len(items))
            log.warning("%d tweets stored as UNSCORED: %s", len(items), why)
        except Exception as error:  # noqa: BLE001  (the sink is down too: the log is the last place left)
            self.metrics.unstored.inc(len(items))
            unstored(items, f"{why}; sink failed: {error}")

    # --- running ---------------------------------------------------------------------------------
    def _run_source(self) -> None:
        try:
            self.source.run(self.emit)
        except Exception as error:  # reported in the summary and the exit status
            self._source_error = f"{type(error).__name__}: {error}"
            log.error("source %s failed: %s", self.source.name, error, exc_info=error)

    def run(self) -> Summary:
        """Run until the source ends (a replay) or request_stop(); returns the counts at exit."""
        started = time.monotonic()
        workers = [threading.Thread(target=self._work, name=f"worker-{n}", daemon=True) for n in range(self.workers)]
        for worker in workers:
            worker.start()
        source = threading.Thread(target=self._run_source, name="source", daemon=True)
        source.start()
        while not self.stop_requested.wait(0.1):
            if not source.is_alive():
                break

        # Stop reading; what the source already took is still scored and stored.
        self.source.stop()
        source.join(SOURCE_STOP_SECONDS if self.stop_requested.is_set() else None)
        with self._lock:
            self._accepting = False
        if source.is_alive():
            log.warning("source still reading after %.0fs; later tweets are stored as UNSCORED", SOURCE_STOP_SECONDS)

        # Drain: unbounded after a replay ends, bounded by the grace period after SIGTERM.
        while any(worker.is_alive() for worker in workers):
            for worker in workers:
                worker.join(0.05)
            if self._past_deadline():
                self.abort.set()
                break
        if self.abort.is_set():
            self._give_up(workers)
        return self.summary(time.monotonic() - started)

    def _give_up(self, workers: list[threading.Thread]) -> None:
        """Past the deadline: keep what is queued, and what a stuck request still holds, as UNSCORED."""
        hard_deadline = self._stop_time + max(self.grace_seconds - 1.0, self.grace_seconds * 0.9)
        for worker in workers:  # retries end at once; a request in flight ends by its timeout, or not
            worker.join(max(0.0, hard_deadline - time.monotonic()))
        while self._emitting and time.monotonic() < hard_deadline:  # a blocked emit sees abort and spills
            time.sleep(0.05)
        leftovers = []
        while True:
            try:
                leftovers.append(self.queue.get_nowait())
            except queue.Empty:
                break
        for batch in list(self._in_flight.values()):  # a late result still overwrites these: it is better
            leftovers += batch
        self._spill([t for t in leftovers if t.scorable], "not scored by the shutdown deadline")
        self._store([rejected_item(t) for t in leftovers if not t.scorable])

    def _past_deadline(self) -> bool:
        if self._stop_time is None:
            return False
        # Keep a reserve of the grace period for storing what is left as UNSCORED, and for exiting.
        reserve = min(5.0, self.grace_seconds * 0.2)
        return time.monotonic() >= self._stop_time + self.grace_seconds - reserve

    def summary(self, seconds: float) -> Summary:
        m = self.metrics
        return Summary(
            received=int(m.value("streamer_tweets_received_total")),
            scored=int(m.value("streamer_tweets_scored_total")),
            rejected=int(m.total("streamer_tweets_rejected_total")),
            stored=int(m.value("streamer_tweets_stored_total")),
            unscored=int(m.value("streamer_tweets_unscored_total")),
            unstored=int(m.value("streamer_tweets_unstored_total")),
            seconds=round(seconds, 3),
            source_error=self._source_error,
        )

"""The pipeline: source -> bounded queue -> workers (micro-batch, score, store) -> sink. The one place where
concurrency lives: the parts it drives (source, model client, sink, journal) are plain calls.

Back-pressure: the queue is bounded; while the model server or the sink is down, workers retry,
the queue fills and the source blocks, so tweets wait instead of being dropped. Shutdown: the
pipeline owns the deadline, and hands it down with the retry policy; it stops reading, finishes what
was received, and keeps back a reserve of the grace period, sized by the backlog, to store what is
left as UNSCORED. A journal, when set, keeps every received tweet until it is stored, across a crash.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from streamer.health import Metrics
from streamer.journal import Journal
from streamer.records import REJECTED, Received, rejected_item, unscored_item
from streamer.retry import Aborted, Retry
from streamer.scorer import ModelClient
from streamer.sinks import unstored
from twitter_sentiment.settings import ConfigError

log = logging.getLogger(__name__)

WORKERS = 4  # batches in flight at once: one is scored while others are stored
SOURCE_STOP_SECONDS = 2.0  # how long the source gets to stop reading before late tweets are spilled
# Spilling a backlog as UNSCORED: a conservative rate (bench/streamer.py --drain measures the real one).
SPILL_TWEETS_PER_SECOND = 1000.0
EXIT_SECONDS = 1.0  # kept back of the grace period for what comes after the spill
WORKER_STOP_SECONDS = 0.5  # for workers to see the deadline and store the batch they hold
SPILL_PART, SPILL_THREADS = 100, 4  # tweets per write_absent call, calls side by side (more only contend)
SHADOW_PENDING = 4  # scored batches waiting for the shadow model server; beyond this one is not compared
STALLED_SECONDS = 5.0  # at SIGTERM, nothing stored for this long although tweets wait: spill them at once


@dataclass
class Summary:
    received: int
    scored: int
    rejected: int
    stored: int
    unscored: int
    unstored: int
    seconds: float
    error: str | None = None  # why the stream stopped early: the source failed, or the model is unknown

    @property
    def complete(self) -> bool:
        """Every received tweet is in the sink (scored, rejected or unscored)."""
        return self.unstored == 0 and self.stored >= self.received


class Pipeline:
    def __init__(self, source, model: ModelClient, sink, metrics: Metrics, *, batch_size: int = 64,
                 batch_max_wait_ms: int = 50, queue_size: int = 10000, grace_seconds: float = 25.0,
                 max_backoff: float = 10.0, journal: Journal | None = None, stall_seconds: float = 600.0,
                 shadow=None, workers: int = WORKERS):
        self.source, self.model, self.sink, self.metrics, self.journal = source, model, sink, metrics, journal
        self.shadow, self.shadow_pending = shadow, SHADOW_PENDING
        self._shadow_queue: queue.Queue = queue.Queue()
        self.shadow_thread = threading.Thread(target=self._compare_shadow, name="shadow", daemon=True)
        self.batch_size, self.batch_wait = batch_size, batch_max_wait_ms / 1000
        self.grace_seconds, self.stall_seconds, self.workers = grace_seconds, stall_seconds, workers
        self.queue: queue.Queue[Received] = queue.Queue(maxsize=queue_size)
        self.deadline = threading.Event()  # set at the shutdown deadline: every retry ends
        self.retry = Retry(self.deadline, max_backoff=max_backoff,
                           on_retry=lambda target: metrics.retried.labels(target).inc())
        self.stop_requested = threading.Event()
        self._stop_time: float | None = None
        self._accepting = True
        self._emitting = 0
        self._lock = threading.Lock()
        self._error: str | None = None
        self._in_flight: dict[int, list[Received]] = {}  # each worker's batch, until it is stored
        self._progress = time.monotonic()  # last time a batch was stored or a worker found nothing waiting
        metrics.queue_depth.set_function(self.queue.qsize)

    # --- the source side --------------------------------------------------------------------------
    def emit(self, tweet: Received) -> None:
        """Called by the source for each tweet; blocks while the queue is full (back-pressure)."""
        if self.journal is not None:
            self.journal.append(tweet)  # before anything else: from here on a crash loses nothing
        self.metrics.received.inc()
        if not tweet.scorable:
            self.metrics.rejected.labels(tweet.reason).inc()
            log.info("tweet %s rejected (%s)", tweet.id, tweet.reason)  # details go with the item, not the log
        with self._lock:
            late = not self._accepting
            if not late:
                self._emitting += 1
        if late:  # a live stream may deliver one more line after shutdown began
            self._spill([tweet], "arrived after shutdown began")
            return
        try:
            while True:
                try:
                    self.queue.put(tweet, timeout=0.2)
                    return
                except queue.Full:
                    if self.stop_requested.is_set():
                        break
            self._spill([tweet], "queue full when shutdown began")  # so the source stops at once
        finally:
            with self._lock:
                self._emitting -= 1

    def request_stop(self) -> None:
        """SIGTERM: start the shutdown clock (safe to call from a signal handler)."""
        if self._stop_time is None:
            self._stop_time = time.monotonic()
        self.stop_requested.set()

    def alive(self) -> tuple[bool, str]:
        """For /livez: False when tweets have waited stall_seconds with nothing stored (a restart may help)."""
        waiting = self.queue.qsize() + sum(len(batch) for batch in list(self._in_flight.values()))
        idle = time.monotonic() - self._progress
        if waiting and idle > self.stall_seconds:
            return False, f"{waiting} tweets waiting, nothing stored for {idle:.0f}s"
        return True, f"{waiting} tweets waiting, last progress {idle:.0f}s ago"

    # --- the workers -------------------------------------------------------------------------------
    def _finished(self) -> bool:
        # Order matters: no new emit can start once not accepting; then no emit is mid-put; then empty.
        return not self._accepting and self._emitting == 0 and self.queue.empty()

    def _take_batch(self) -> list[Received]:
        """Up to batch_size tweets, waiting at most batch_max_wait_ms after the first."""
        try:
            batch = [self.queue.get(timeout=0.1)]
        except queue.Empty:
            self._progress = time.monotonic()  # nothing is waiting: not a stall
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
        me = threading.get_ident()
        while not self.deadline.is_set():
            batch = self._take_batch()
            if batch:
                self._in_flight[me] = batch
                try:
                    self._process(batch)
                except Aborted as error:  # the deadline came while scoring: keep the batch, once
                    log.warning("%d tweets not scored: %s", len(batch), error)
                    self._spill(self._claim(me), "model server unavailable at the shutdown deadline")
                except ConfigError as error:  # the model server has no MODEL_NAME: stop, keep the tweets
                    self._error = str(error)
                    log.error("%s", error)
                    self._spill(self._claim(me), "the model server has no model of this name")
                    self.request_stop()
                finally:
                    self._claim(me)
            elif self._finished():
                return

    def _claim(self, worker: int) -> list[Received]:
        """A worker's batch, for whoever spills it first: the worker itself, or the shutdown past its deadline."""
        with self._lock:
            return self._in_flight.pop(worker, None) or []

    def _process(self, batch: list[Received]) -> None:
        started = time.perf_counter()
        scorable = [tweet for tweet in batch if tweet.scorable]
        items = [rejected_item(tweet) for tweet in batch if not tweet.scorable]
        done = [tweet for tweet in batch if not tweet.scorable]
        if scorable:
            self.metrics.batch_size.observe(len(scorable))
            scored = self.model.score(scorable, self.retry)
            done += scorable
            if self.shadow is not None and self.shadow.sampled():
                self._offer_shadow(scorable, scored)
            for item in scored:
                if item["sentiment"] == REJECTED:
                    self.metrics.rejected.labels(item["reason"].split(":", 1)[0]).inc()
            self.metrics.scored.inc(sum(item["sentiment"] != REJECTED for item in scored))
            items += scored
        self._store(items, done)
        self.metrics.batch_seconds.observe(time.perf_counter() - started)

    def _offer_shadow(self, tweets: list[Received], scored: list[dict]) -> None:
        """Hand a scored batch to the shadow's thread; never waits: when it is busy, the batch is not compared."""
        served = [(t.text, {"label": i["sentiment"], "score": i["score"]})
                  for t, i in zip(tweets, scored) if i["sentiment"] != REJECTED]
        try:
            self._shadow_queue.put_nowait(([text for text, _ in served], [answer for _, answer in served]))
        except queue.Full:
            self.metrics.shadow.labels("dropped").inc(len(served))

    def _compare_shadow(self) -> None:
        while (work := self._shadow_queue.get()) is not None:
            self.shadow.compare(*work)
        self.shadow.close()

    def _store(self, items: list[dict], tweets: list[Received]) -> None:
        """Store the items of `tweets`; the journal lets go of each tweet whose item is stored."""
        if not items:
            return
        try:
            stored = self.sink.write(items, self.retry)
            self.metrics.stored.inc(stored)
            self.metrics.unstored.inc(len(items) - stored)  # refused outright by the sink: its tweet stays journaled
            pending = set() if stored == len(items) else {item["id"] for item in items}
        except Aborted as error:
            self.metrics.stored.inc(error.stored)
            self.metrics.unstored.inc(len(error.pending))
            unstored(error.pending, str(error))
            pending = {item["id"] for item in error.pending}
        else:
            self._progress = time.monotonic()
        if self.journal is not None:
            self.journal.done(tweet for tweet in tweets if tweet.id not in pending)

    def _spill(self, tweets: list[Received], why: str) -> None:
        """Store tweets that will not be scored as UNSCORED (or REJECTED), without overwriting a stored result.

        A full queue's spill must fit the grace period: its parts are written side by side.
        """
        if not tweets:
            return
        parts = [tweets[start:start + SPILL_PART] for start in range(0, len(tweets), SPILL_PART)]
        if len(parts) == 1:
            self._spill_part(tweets, why)
            return
        with ThreadPoolExecutor(max_workers=min(SPILL_THREADS, len(parts)), thread_name_prefix="spill") as pool:
            stored = sum(pool.map(lambda part: self._spill_part(part, why), parts))
        log.warning("%d of %d tweets stored as UNSCORED or REJECTED: %s", stored, len(tweets), why)

    def _spill_part(self, tweets: list[Received], why: str) -> int:
        items = [unscored_item(tweet, why) if tweet.scorable else rejected_item(tweet) for tweet in tweets]
        try:
            self.metrics.stored.inc(self.sink.write_absent(items))
        except Exception as error:  # noqa: BLE001  (the sink is down too: the journal is the last place left)
            self.metrics.unstored.inc(len(items))
            unstored(items, f"{why}; sink failed: {error}")
            return 0
        self.metrics.unscored.inc(sum(tweet.scorable for tweet in tweets))
        if self.journal is not None:
            self.journal.done(tweets)
        return len(items)

    # --- running ---------------------------------------------------------------------------------
    def _run_source(self) -> None:
        try:
            if self.journal is not None:
                for tweet in self.journal.recovered():  # what a crash left: first, as if received again
                    self.metrics.recovered.inc()
                    self._put(tweet)
            self.source.run(self.emit)
        except Exception as error:  # reported in the summary and the exit status
            self._error = f"source {self.source.name} failed: {type(error).__name__}: {error}"
            log.error("source %s failed: %s", self.source.name, error, exc_info=error)

    def _put(self, tweet: Received) -> None:
        self.metrics.received.inc()
        while not self.deadline.is_set():
            try:
                self.queue.put(tweet, timeout=0.2)
                return
            except queue.Full:
                continue

    def run(self) -> Summary:
        """Run until the source ends (a replay) or request_stop(); returns the counts at exit."""
        started = time.monotonic()
        workers = [threading.Thread(target=self._work, name=f"worker-{n}", daemon=True) for n in range(self.workers)]
        for worker in workers:
            worker.start()
        source = threading.Thread(target=self._run_source, name="source", daemon=True)
        source.start()
        if self.shadow is not None:
            self._shadow_queue = queue.Queue(maxsize=self.shadow_pending)
            self.shadow_thread.start()
        while not self.stop_requested.wait(0.1):
            if not source.is_alive():
                break

        # Stop reading; what the source already took is still scored and stored.
        self.source.stop()
        source.join(min(SOURCE_STOP_SECONDS, self.grace_seconds / 5) if self.stop_requested.is_set() else None)
        with self._lock:
            self._accepting = False
        if source.is_alive():
            log.warning("source still reading after %.0fs; later tweets are stored as UNSCORED", SOURCE_STOP_SECONDS)

        # Drain: unbounded after a replay ends, bounded by the grace period after SIGTERM.
        while any(worker.is_alive() for worker in workers):
            for worker in workers:
                worker.join(0.05)
            if self._past_deadline():
                self.deadline.set()
                break
        if self.deadline.is_set():
            log.warning("shutdown deadline %.1fs after the stop: %d tweets queued are stored as UNSCORED",
                        time.monotonic() - self._stop_time, self.queue.qsize())
            self._give_up(workers)
        if self.journal is not None:
            self.journal.close()
        if self.shadow is not None:  # what it holds is compared; a stuck shadow does not hold the exit (daemon)
            with contextlib.suppress(queue.Full):
                self._shadow_queue.put_nowait(None)
        return self.summary(time.monotonic() - started)

    def _give_up(self, workers: list[threading.Thread]) -> None:
        """Past the deadline: keep what is queued, and what a stuck request still holds, as UNSCORED."""
        self._spill(self._drain_queue(), "not scored by the shutdown deadline")  # first: the most tweets
        hard_deadline = self._stop_time + self.grace_seconds - EXIT_SECONDS
        while self._emitting and time.monotonic() < hard_deadline:  # a blocked emit sees the deadline and spills
            time.sleep(0.05)
        in_flight = self.workers * self.batch_size / SPILL_TWEETS_PER_SECOND
        for worker in workers:  # retries end at once; a request in flight ends by its timeout, or not
            worker.join(max(0.0, hard_deadline - in_flight - time.monotonic()))
        leftovers = self._drain_queue()
        for worker in list(self._in_flight):  # a late result still overwrites these: it is better
            leftovers += self._claim(worker)
        self._spill(leftovers, "not scored by the shutdown deadline")
        for worker in workers:  # a worker that claimed its own batch is storing it (a few quick tries)
            worker.join(max(0.0, self._stop_time + self.grace_seconds - time.monotonic()))

    def _drain_queue(self) -> list[Received]:
        leftovers = []
        while True:
            try:
                leftovers.append(self.queue.get_nowait())
            except queue.Empty:
                return leftovers

    def _past_deadline(self) -> bool:
        if self._stop_time is None:
            return False
        if self.queue.qsize() and time.monotonic() - self._progress > STALLED_SECONDS:
            return True  # nothing is being stored (the model server is down): waiting cannot help, spill now
        # Keep back what storing the backlog as UNSCORED takes (it shrinks as workers go on), and exiting.
        reserve = EXIT_SECONDS + WORKER_STOP_SECONDS + (
            self.queue.qsize() + self.workers * self.batch_size) / SPILL_TWEETS_PER_SECOND
        return time.monotonic() >= self._stop_time + self.grace_seconds - min(reserve, self.grace_seconds * 0.9)

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
            error=self._error,
        )

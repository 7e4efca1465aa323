"""Shadow traffic: a sample of scored batches also goes to a second model server (a challenger), to compare.

The challenger's answers are compared with the champion's, counted on the metrics (agreement, score
difference), and dropped: nothing of the shadow is stored. It runs on a thread of its own behind a
small queue that never blocks: when the challenger is slow or down, batches are dropped, not waited for.
"""

from __future__ import annotations

import logging
import queue
import random
import threading

from streamer.health import Metrics
from streamer.scorer import ModelClient

log = logging.getLogger(__name__)

PENDING_BATCHES = 4  # waiting for the challenger; beyond this a sampled batch is dropped


class Shadow:
    def __init__(self, model: ModelClient, sample: float, metrics: Metrics, *, pending: int = PENDING_BATCHES):
        self.model, self.sample, self.metrics = model, sample, metrics
        self._random = random.Random()  # nosec B311: a traffic sample, not a secret
        self._pending: queue.Queue = queue.Queue(maxsize=pending)
        self._thread = threading.Thread(target=self._run, name="shadow", daemon=True)
        self._thread.start()

    def offer(self, texts: list[str], predictions: list[dict]) -> None:
        """Called with each batch the champion scored; never blocks."""
        if self._random.random() >= self.sample:
            return
        try:
            self._pending.put_nowait((texts, predictions))
        except queue.Full:
            self.metrics.shadow.labels("dropped").inc(len(texts))

    def _run(self) -> None:
        while True:
            work = self._pending.get()
            if work is None:  # closed: what was pending before is compared, then the client goes
                self.model.close()
                return
            texts, champion = work
            try:
                challenger, _ = self.model.predict_once(texts)
            except Exception as error:  # noqa: BLE001  (whatever the challenger does, the stream goes on)
                self.metrics.shadow.labels("failed").inc(len(texts))
                log.debug("shadow model server failed: %s", error)
                continue
            agreed = sum(a["label"] == b["label"] for a, b in zip(champion, challenger))
            self.metrics.shadow.labels("agreed").inc(agreed)
            self.metrics.shadow.labels("disagreed").inc(len(texts) - agreed)
            for a, b in zip(champion, challenger):
                self.metrics.shadow_score_difference.observe(abs(float(a["score"]) - float(b["score"])))
            compared = self.metrics.value("streamer_shadow_tweets_total", outcome="agreed") + self.metrics.value(
                "streamer_shadow_tweets_total", outcome="disagreed")
            self.metrics.shadow_agreement.set(self.metrics.value("streamer_shadow_tweets_total", outcome="agreed")
                                              / compared)

    def close(self) -> None:
        """Never waits: a stuck challenger's thread is a daemon, and does not hold the exit."""
        try:
            self._pending.put_nowait(None)
        except queue.Full:
            pass

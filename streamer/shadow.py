"""Shadow traffic: a sample of scored batches also goes to a second model server (a challenger), to compare.

The challenger's answers are compared with the served ones, counted on the metrics (agreement, score
difference), and dropped: nothing of the shadow is stored. The pipeline calls `compare` from a thread
of its own behind a small queue that never blocks, so a slow or dead challenger never slows the stream.
"""

from __future__ import annotations

import logging
import random

from streamer.health import Metrics
from streamer.scorer import ModelClient

log = logging.getLogger(__name__)


class Shadow:
    def __init__(self, model: ModelClient, sample: float, metrics: Metrics):
        self.model, self.sample, self.metrics = model, sample, metrics
        self._random = random.Random()  # nosec B311: a traffic sample, not a secret

    def sampled(self) -> bool:
        return self._random.random() < self.sample

    def compare(self, texts: list[str], served: list[dict]) -> None:
        """Score `texts` on the challenger; count agreement with the `served` labels and the score difference."""
        try:
            challenger, _ = self.model.predict_once(texts)
        except Exception as error:  # noqa: BLE001  (whatever the challenger does, the stream goes on)
            self.metrics.shadow.labels("failed").inc(len(texts))
            log.debug("shadow model server failed: %s", error)
            return
        agreed = sum(a["label"] == b["label"] for a, b in zip(served, challenger))
        self.metrics.shadow.labels("agreed").inc(agreed)
        self.metrics.shadow.labels("disagreed").inc(len(texts) - agreed)
        for a, b in zip(served, challenger):
            self.metrics.shadow_score_difference.observe(abs(float(a["score"]) - float(b["score"])))
        total = {outcome: self.metrics.value("streamer_shadow_tweets_total", outcome=outcome)
                 for outcome in ("agreed", "disagreed")}
        self.metrics.shadow_agreement.set(total["agreed"] / (total["agreed"] + total["disagreed"]))

    def close(self) -> None:
        self.model.close()

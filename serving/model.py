"""The KServe model: load the bundle once, validate each request, score its tweets as one batch."""

from __future__ import annotations

import collections
import logging
import uuid
from dataclasses import dataclass

from kserve import Model
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse
from prometheus_client import Counter, Gauge

from serving.batching import BatchingPredictor
from serving.loading import load_model
from serving.requests import RequestRejected, v1_texts, v2_texts
from serving.settings import ServingSettings
from twitter_sentiment.bundle import Prediction

log = logging.getLogger(__name__)

# On KServe's /metrics (prometheus_client's default registry), beside its request_*_seconds histograms.
MODEL_INFO = Gauge("twitter_sentiment_model_info", "the bundle this server serves (1)",
                   ["model_name", "model_version"])
TWEETS_SCORED = Counter("twitter_sentiment_tweets_scored", "tweets scored, by label",
                        ["model_name", "model_version", "label"])


@dataclass(frozen=True)
class Tweets:
    """A validated request: its cleaned texts, and the v2 request to answer in kind (None for v1)."""

    texts: list[str]
    v2_request: InferRequest | None = None


class SentimentPredictor(Model):
    def __init__(self, settings: ServingSettings):
        super().__init__(settings.model_name)
        self.storage_uri = settings.storage_uri
        self.settings = settings
        self.version: str | None = None
        self.predictor: BatchingPredictor | None = None

    def load(self) -> bool:
        """Read and verify the bundle, build the compiled predict path; only then ready."""
        model = load_model(self.storage_uri, self.settings.fold_recurrent)
        self.version = model.version
        self.predictor = BatchingPredictor(model, max_batch=self.settings.max_instances)
        MODEL_INFO.labels(self.name, self.version).set(1)
        self.ready = True
        log.info("model %s ready: bundle version %s from %s", self.name, self.version, self.storage_uri)
        return self.ready

    async def healthy(self) -> bool:
        """Readiness (KServe asks it for /v2/health/ready and the model's ready routes): true only
        while this process can score a tweet now, i.e. loaded and with its model thread open."""
        return self.ready and self.predictor is not None and not self.predictor.closed

    def stop(self):
        if self.predictor is not None:
            self.predictor.close()
        super().stop()

    def get_input_types(self) -> list[dict]:  # v2 model metadata, GET /v2/models/<name>
        return [{"name": "text", "datatype": "BYTES", "shape": [-1]}]

    def get_output_types(self) -> list[dict]:
        return [{"name": "label", "datatype": "BYTES", "shape": [-1]},
                {"name": "score", "datatype": "FP32", "shape": [-1]}]

    async def preprocess(self, payload, headers=None) -> Tweets:
        if isinstance(payload, InferRequest):
            return Tweets(v2_texts(payload, self.settings), payload)
        return Tweets(v1_texts(payload, self.settings))

    async def explain(self, payload, headers=None):
        raise RequestRejected(f"{self.name} has no explainer: ask :predict for labels and scores", 404)

    async def score(self, clean_texts: list[str]) -> list[Prediction]:
        """Predictions for validated, cleaned texts (batched with concurrent requests), counted."""
        predictions = await self.predictor.predict(clean_texts)
        for label, count in collections.Counter(p.label for p in predictions).items():
            TWEETS_SCORED.labels(self.name, self.version, label).inc(count)
        return predictions

    async def predict(self, payload: Tweets, headers=None):
        predictions = await self.score(payload.texts)
        if payload.v2_request is None:
            return {"predictions": [p.as_dict() for p in predictions], "model_version": self.version}
        n = len(predictions)
        return InferResponse(
            response_id=payload.v2_request.id or str(uuid.uuid4()),
            model_name=self.name,
            model_version=self.version,
            infer_outputs=[
                InferOutput("label", [n], "BYTES", [p.label for p in predictions]),
                InferOutput("score", [n], "FP32", [p.score for p in predictions]),
            ],
        )

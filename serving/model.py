"""The KServe model: load the bundle once, validate each request, score its tweets as one batch."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from kserve import Model
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse

from serving.batching import BatchingPredictor
from serving.loading import load_model
from serving.requests import Limits, v1_texts, v2_texts

log = logging.getLogger(__name__)

DEFAULT_NAME = "twitter-sentiment"


@dataclass(frozen=True)
class Tweets:
    """A validated request: its texts, and the v2 request to answer in kind (None for v1)."""

    texts: list[str]
    v2_request: InferRequest | None = None


class SentimentPredictor(Model):
    def __init__(self, name: str = DEFAULT_NAME, storage_uri: str = "/mnt/models",
                 limits: Limits | None = None):
        super().__init__(name)
        self.storage_uri = storage_uri
        self.limits = limits or Limits()
        self.version: str | None = None
        self.predictor: BatchingPredictor | None = None

    def load(self) -> bool:
        """Read and verify the bundle, build the compiled predict path; only then ready."""
        model = load_model(self.storage_uri)
        self.version = model.version
        self.predictor = BatchingPredictor(model, max_batch=self.limits.max_instances)
        self.ready = True
        log.info("model %s ready: bundle version %s from %s", self.name, self.version, self.storage_uri)
        return self.ready

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
            return Tweets(v2_texts(payload, self.limits), payload)
        return Tweets(v1_texts(payload, self.limits))

    async def predict(self, payload: Tweets, headers=None):
        predictions = await self.predictor.predict(payload.texts)
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

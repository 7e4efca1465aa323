"""Run the model on one worker thread, and score concurrent requests together.

The event loop keeps parsing requests while the model computes. Requests that arrive while a batch
is running wait and go through the model as the next batch, one call for all of them: nothing
waits on a timer, a lone request is scored at once, and under load the model's per-call cost is
shared. A request's own texts always stay together and in order.
"""

from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from twitter_sentiment.bundle import Prediction, SentimentModel


class BatchingPredictor:
    def __init__(self, model: SentimentModel, max_batch: int = 1024):
        self.model = model
        self.max_batch = max_batch  # tweets per model call, unless one request alone has more
        self._pending: deque[tuple[list[str], asyncio.Future]] = deque()
        self._worker: asyncio.Task | None = None
        # One thread: TensorFlow already spreads one call over every core; two calls would only contend.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")
        self.closed = False

    async def predict(self, clean_texts: list[str]) -> list[Prediction]:
        """Predictions for texts already cleaned by `scorable_text`, in order."""
        if self.closed:
            raise RuntimeError("the predictor is closed")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((clean_texts, future))
        if self._worker is None or self._worker.done() or self._worker.get_loop() is not loop:
            self._worker = loop.create_task(self._drain())
        return await future

    def _next_batch(self) -> list[tuple[list[str], asyncio.Future]]:
        batch, size = [], 0
        while self._pending and (not batch or size + len(self._pending[0][0]) <= self.max_batch):
            texts, future = self._pending.popleft()
            if not future.done():  # its client went away
                batch.append((texts, future))
                size += len(texts)
        return batch

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._pending:
            batch = self._next_batch()
            if not batch:
                continue
            texts = [text for request, _ in batch for text in request]
            try:
                predictions = await loop.run_in_executor(self._executor, self.model.predict_clean, texts)
            except Exception as error:  # noqa: BLE001  (every waiting request learns it; the worker goes on)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            start = 0
            for request, future in batch:
                if not future.done():
                    future.set_result(predictions[start:start + len(request)])
                start += len(request)

    def close(self) -> None:
        self.closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)

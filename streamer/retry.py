"""One retry policy for every remote call the streamer makes: the model server, the sink, the X API.

Exponential backoff with full jitter (tenacity), a sleep the shutdown deadline interrupts, one log
line on the first failure and every tenth (a long outage must not flood the log), and a count per
target on `streamer_retries_total`. The pipeline owns the deadline and hands this policy down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_any, wait_random_exponential

log = logging.getLogger(__name__)


class Aborted(RuntimeError):
    """The service is past its shutdown deadline: stop retrying. `pending`: what was not done."""

    def __init__(self, message: str, pending: list | None = None, stored: int = 0):
        super().__init__(message)
        self.pending, self.stored = list(pending or []), stored


class Retry:
    """Retry a call until it succeeds, `deadline` is set (then Aborted), or `give_up` says so (then the error)."""

    def __init__(self, deadline: threading.Event | None = None, *, max_backoff: float = 10.0,
                 on_retry: Callable[[str], None] = lambda target: None):
        self.deadline = deadline or threading.Event()
        self.max_backoff, self.on_retry = max_backoff, on_retry

    def call(self, target: str, function: Callable, *args, errors: type[BaseException] | tuple = Exception,
             attempts: int | None = None, give_up: Callable[[int], bool] = lambda attempt: False,
             max_backoff: float | None = None):
        """`function(*args)`, retried on `errors`; `attempts` bounds the tries, `give_up(n)` ends them early."""
        stops = [lambda state: self.deadline.is_set(), lambda state: give_up(state.attempt_number)]
        if attempts is not None:
            stops.append(stop_after_attempt(attempts))
        retrying = Retrying(
            retry=retry_if_exception_type(errors),
            wait=wait_random_exponential(multiplier=0.05, max=self.max_backoff if max_backoff is None else max_backoff),
            stop=stop_any(*stops),
            sleep=self.deadline.wait,  # an interruptible sleep: the shutdown deadline ends it
            before_sleep=lambda state: self._failed(target, state),
            reraise=True,
        )
        try:
            return retrying(function, *args)
        except errors as error:
            if self.deadline.is_set():
                raise Aborted(f"{target}: gave up at the shutdown deadline: {error}") from error
            raise

    def _failed(self, target: str, state) -> None:
        self.on_retry(target)
        attempt = state.attempt_number
        if attempt == 1 or attempt % 10 == 0:
            log.warning("%s failed (attempt %d, retrying in %.2fs): %s", target, attempt, state.upcoming_sleep,
                        state.outcome.exception())

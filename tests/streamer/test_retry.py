"""The streamer's one retry policy: backoff until the deadline, a log line on the first failure and every
tenth, a count per target, a sleep the deadline ends."""

from __future__ import annotations

import logging
import threading

import pytest

from streamer.retry import Aborted, Retry


class Flaky:
    def __init__(self, failures: int):
        self.failures, self.calls = failures, 0

    def __call__(self, value):
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"down (call {self.calls})")
        return value


def test_retries_until_it_succeeds_counting_each_and_logging_a_few(caplog):
    counted = []
    retry = Retry(max_backoff=0.001, on_retry=counted.append)
    with caplog.at_level(logging.WARNING, logger="streamer.retry"):
        assert retry.call("model_server", Flaky(25), "ok", errors=ConnectionError) == "ok"
    assert counted == ["model_server"] * 25
    attempts = [record.getMessage().split("(attempt ")[1].split(",")[0] for record in caplog.records]
    assert attempts == ["1", "10", "20"]


def test_the_deadline_ends_a_long_sleep_with_aborted():
    retry = Retry(max_backoff=3600)  # without the deadline, the second try would wait up to an hour
    flaky = Flaky(10**9)
    threading.Timer(0.5, retry.deadline.set).start()
    with pytest.raises(Aborted, match="sink: gave up at the shutdown deadline: down"):
        retry.call("sink", flaky, None, errors=ConnectionError)
    assert flaky.calls < 20


def test_other_errors_and_give_up_are_not_retried_away():
    retry = Retry(max_backoff=0.001)
    calls = []

    def broken():
        calls.append(1)
        raise KeyError("a bug, not an outage")

    with pytest.raises(KeyError):
        retry.call("sink", broken, errors=ConnectionError)
    assert len(calls) == 1
    flaky = Flaky(10**9)
    with pytest.raises(ConnectionError):
        retry.call("model_server", flaky, None, errors=ConnectionError, give_up=lambda attempt: attempt == 3)
    assert flaky.calls == 3
    flaky = Flaky(10**9)
    with pytest.raises(ConnectionError):
        retry.call("sink", flaky, None, errors=ConnectionError, attempts=5)
    assert flaky.calls == 5

"""A background loop's failures in the log (`logs.FailureStreak`): the first with its traceback, then a line a
minute with the count while they go on, then the recovery; a new streak starts afresh."""

from __future__ import annotations

import logging

import pytest

from execplanner.logs import FailureStreak, event_fields


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fail(streak: FailureStreak, message: str = "connection refused\nsecond line") -> None:
    try:
        raise ConnectionError(message)
    except ConnectionError:
        streak.failed()


def test_one_traceback_a_line_a_minute_then_the_recovery(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    streak = FailureStreak(logging.getLogger("test.loop"), "scheduler_pass_failed", every=60.0, clock=clock)
    caplog.set_level(logging.INFO, "test.loop")
    for _ in range(240):  # a pass every 0.25 s for a minute
        fail(streak)
        clock.now += 0.25
    fail(streak)  # 60 s after the first
    clock.now += 5
    streak.succeeded()
    streak.succeeded()

    first, count, recovered = caplog.records
    assert first.exc_info and first.getMessage() == "scheduler_pass_failed"
    event, fields = event_fields(count.getMessage())
    assert (event, count.levelname) == ("scheduler_pass_failed", "ERROR")
    assert fields == {"failures": 241, "since_seconds": 60.0, "last_error": "ConnectionError: connection refused"}
    assert not count.exc_info
    event, fields = event_fields(recovered.getMessage())
    assert (event, recovered.levelname) == ("scheduler_pass_recovered", "WARNING")
    assert fields == {"failures": 241, "after_seconds": 65.0}
    assert streak.failures == 0

    caplog.clear()
    fail(streak, "another outage")
    [again] = caplog.records
    assert again.exc_info  # a new streak: its first failure has its traceback again


def test_a_pass_that_never_failed_logs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    streak = FailureStreak(logging.getLogger("test.loop"), "driver_pass_failed")
    caplog.set_level(logging.DEBUG, "test.loop")
    streak.succeeded()
    assert not caplog.records

"""Waiting for a condition with a deadline: polling, never a bare sleep as synchronisation."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.05,
    what: str = "condition",
    why: Callable[[], str] | None = None,
) -> T:
    """Poll until `predicate()` is truthy; returns its value. A deadline, not a sleep. Past the deadline the
    failure names `what` and, with `why`, says what the state was instead."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            instead = f" ({why()})" if why else ""
            raise AssertionError(f"{what} not met within {timeout:g} s{instead}")
        time.sleep(interval)

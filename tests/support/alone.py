"""`@pytest.mark.alone`: a test that must not run beside other tests of this run (heavy load, latency assertions,
SIGKILL), also under pytest-xdist (`make test` runs `pytest -n 2`).

How: every test of an xdist run holds a lock on one file of the run while it runs (setup, call and teardown) —
shared for ordinary tests, exclusive for `alone` ones. An `alone` test therefore waits until the other workers'
current tests end, and they start nothing new until it is over. A turnstile lock taken briefly before either keeps
waiting `alone` tests from being starved by a stream of ordinary ones. Without xdist it does nothing: a serial run
has nothing beside it. (Processes outside this run — other suites on the machine — are beyond its reach.)

Registered for the whole suite by tests/conftest.py; the marker is declared in pyproject.toml.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

MARKER = "alone"


def _lock_paths() -> tuple[Path, Path] | None:
    """The run's two lock files, or None outside an xdist worker."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        return None
    folder = Path(tempfile.gettempdir())
    return folder / f"execplanner-tests-{run}.turnstile", folder / f"execplanner-tests-{run}.lock"


@contextmanager
def _held(path: Path, how: int) -> Iterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, how)
        yield
    finally:
        os.close(descriptor)  # releases the lock


@contextmanager
def turn(alone: bool) -> Iterator[None]:
    """Run the body as an ordinary test (beside others) or alone (beside none of this run's)."""
    paths = _lock_paths()
    if paths is None:
        yield
        return
    turnstile, lock = paths
    # the turnstile is let go as soon as the lock is had: it only orders who waits first
    descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        with _held(turnstile, fcntl.LOCK_EX):
            fcntl.flock(descriptor, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        yield
    finally:
        os.close(descriptor)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    with turn(item.get_closest_marker(MARKER) is not None):
        return (yield)

"""`@pytest.mark.alone`: a test that must not run beside other tests of this run (heavy load, latency assertions,
SIGKILL), also under pytest-xdist (`make test` runs `pytest -n 2`).

How: every test of an xdist run holds a lock on one file of the run while it runs (setup, call and teardown) —
shared for ordinary tests. An `alone` test sets up under the shared lock too (starting its servers beside other
tests costs it nothing), then takes the lock exclusively for its call and keeps it through its teardown: it waits
until the other workers' current tests end, and they start nothing new until it is over. A turnstile lock taken
briefly before either keeps waiting `alone` tests from being starved by a stream of ordinary ones. A worker that
runs `alone` tests back to back keeps the exclusive lock from one to the next, rather than waiting each time for
the other workers' current tests (with `--dist loadfile`, a module of them is one wait, not one per test).
Without xdist it does nothing: a serial run has nothing beside it. (Processes outside this run — other suites on
the machine — are beyond its reach.)

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


class _Turn:
    """This worker's hold on the run's lock: none, shared or exclusive."""

    def __init__(self) -> None:
        self.descriptor: int | None = None
        self.exclusive = False

    def take(self, paths: tuple[Path, Path], exclusive: bool) -> None:
        turnstile, lock = paths
        if self.descriptor is None:
            self.descriptor = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
        else:  # shared -> exclusive: let go first, so two workers doing this at once never wait on each other
            fcntl.flock(self.descriptor, fcntl.LOCK_UN)
        # the turnstile is let go as soon as the lock is had: it only orders who waits first
        with _held(turnstile, fcntl.LOCK_EX):
            fcntl.flock(self.descriptor, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        self.exclusive = exclusive

    def let_go(self) -> None:
        if self.descriptor is not None:
            os.close(self.descriptor)  # releases the lock
        self.descriptor, self.exclusive = None, False


_turn = _Turn()


def _alone(item: pytest.Item | None) -> bool:
    return item is not None and item.get_closest_marker(MARKER) is not None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[object]:
    paths = _lock_paths()
    if paths is None:
        return (yield)
    if _turn.descriptor is None:
        _turn.take(paths, exclusive=False)
    try:
        return (yield)
    finally:
        if not (_turn.exclusive and _alone(nextitem)):  # the next `alone` test keeps what this one had
            _turn.let_go()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[object]:
    paths = _lock_paths()
    if paths is not None and _alone(item) and not _turn.exclusive:
        _turn.take(paths, exclusive=True)
    return (yield)


def pytest_sessionfinish() -> None:
    _turn.let_go()

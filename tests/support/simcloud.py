"""pytest fixtures for the simulated federation, registered for the whole suite by tests/conftest.py.

`simcloud` is one federation for the whole session (fault rules cleared around each test; objects created by
earlier tests remain); `simcloud_fresh` is a new federation per test, for tests that count things.
`connect()` (from `execplanner.simcloud.connect`) opens an openstacksdk connection the way EGI users do.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from execplanner.simcloud.connect import connect
from execplanner.simcloud.server import SimFederation

__all__ = ["connect", "simcloud", "simcloud_fresh", "simcloud_session"]


@pytest.fixture(scope="session")
def simcloud_session() -> Iterator[SimFederation]:
    fed = SimFederation.start()
    try:
        yield fed
    finally:
        fed.stop()


@pytest.fixture
def simcloud(simcloud_session: SimFederation) -> Iterator[SimFederation]:
    simcloud_session.faults.clear()
    yield simcloud_session
    simcloud_session.faults.clear()


@pytest.fixture
def simcloud_fresh() -> Iterator[SimFederation]:
    fed = SimFederation.start()
    try:
        yield fed
    finally:
        fed.stop()

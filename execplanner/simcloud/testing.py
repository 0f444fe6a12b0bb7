"""pytest fixtures for the simulated federation: `pytest_plugins = ["execplanner.simcloud.testing"]`.

`simcloud` is one federation for the whole session (fault rules cleared around each test; objects created by
earlier tests remain); `simcloud_fresh` is a new federation per test, for tests that count things.
`connect()` opens an openstacksdk connection to a simulated site the way EGI users do (OIDC access token).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from execplanner.simcloud.server import SimFederation


def connect(
    fed: SimFederation, site: str, vo: str = "vo.access.egi.eu", token: str | None = None, **options: Any
) -> Any:
    """An `openstack.connection.Connection` scoped to `vo`'s project at `site`, ignoring clouds.yaml and OS_*."""
    import openstack

    sim_site = fed.site(site)
    return openstack.connect(
        auth_type="v3oidcaccesstoken",
        auth_url=sim_site.auth_url,
        identity_provider=fed.spec.identity_provider,
        protocol=fed.spec.protocol,
        access_token=token or fed.demo_token,
        project_id=sim_site.vos.get(vo, "not-a-member-of-" + vo),
        load_yaml_config=False,
        load_envvars=False,
        **options,
    )


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

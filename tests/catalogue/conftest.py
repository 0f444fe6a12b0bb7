"""Fixtures: one full catalogue built from the simulated federation (its fixtures come from support.simcloud)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from execplanner.catalogue.build import build_catalogue
from execplanner.catalogue.model import Catalogue
from execplanner.catalogue.sources import sim_targets
from execplanner.simcloud import FederationSpec, SimFederation, load_federation


@pytest.fixture(scope="session")
def sim_spec() -> FederationSpec:
    """The bundled simulated federation, as the simulator reads it (with its `expected:` answers)."""
    return load_federation()


@pytest.fixture(scope="session")
def quiet_sim() -> Iterator[SimFederation]:
    """The bundled federation without its artificial response delays (content is identical, tests are fast)."""
    spec = load_federation()
    for site in spec.sites:
        site.response_delay = 0.0
    fed = SimFederation.start(spec=spec)
    try:
        yield fed
    finally:
        fed.stop()


@pytest.fixture(scope="session")
def sim_catalogue(quiet_sim: SimFederation) -> Catalogue:
    """Every site and every VO of the simulator, discovered over HTTP once for the session."""
    targets, credentials, source = sim_targets(quiet_sim.base_url)
    return build_catalogue(targets, credentials, source, site_timeout=60)


_OPENSTACK_NOISE = (
    "ignore::openstack.warnings.OpenStackDeprecationWarning",
    "ignore::openstack.warnings.RemovedInSDK50Warning",
    "ignore::openstack.warnings.RemovedInSDK60Warning",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """openstacksdk warns about its own internals on every call: not ours to fix, so keep our output readable."""
    for item in items:
        if "tests/catalogue/" in str(item.path).replace("\\", "/"):
            for spec in _OPENSTACK_NOISE:
                item.add_marker(pytest.mark.filterwarnings(spec))

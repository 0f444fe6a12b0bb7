"""Fixtures: one full catalogue built from the simulated federation (its fixtures come from support.simcloud)."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator

import pytest

from execplanner.catalogue.build import build_catalogue
from execplanner.catalogue.model import Catalogue
from execplanner.catalogue.sources import sim_targets
from execplanner.simcloud import FederationSpec, SimFederation, load_federation
from execplanner.simcloud.default_catalogue import CANONICAL_SIM_URL, rebase


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
def sim_catalogue(quiet_sim: SimFederation, tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    """Every site and every VO of the simulator, discovered over HTTP once for the run.

    Under pytest-xdist the first worker that needs it builds it against its own simulator and leaves the build
    in the run's directory; the others wait for it and take it, moved to their own simulator's address, rather
    than each spending seconds of CPU on the same ~850 calls to the same bundled federation.
    """
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return _build_from(quiet_sim)
    run_dir = tmp_path_factory.getbasetemp().parent  # common to every worker of this run, and to no other run
    built = run_dir / "sim-catalogue.json"
    with (run_dir / "sim-catalogue.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if built.is_file():
            return rebase(Catalogue.load(built), CANONICAL_SIM_URL, quiet_sim.base_url)
        catalogue = _build_from(quiet_sim)
        rebase(catalogue, quiet_sim.base_url).save(built)
        return catalogue


def _build_from(fed: SimFederation) -> Catalogue:
    targets, credentials, source = sim_targets(fed.base_url)
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

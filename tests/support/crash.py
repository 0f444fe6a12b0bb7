"""What the crash matrix (tests/e2e/test_crash_matrix.py) needs around a simulated federation: a federation with
room for many sessions at once, a catalogue that points at it, sessions with short hand-made schedules, and the
census of everything execplanner left at any site.

Everything execplanner makes at a site carries the session uuid (`execplanner-<uuid>` names, floating-IP
descriptions), so "what is left" is found exactly as the service's reconciliation finds it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from execplanner.catalogue import Catalogue, default_catalogue_path
from execplanner.model.documents import Session
from execplanner.simcloud import SimFederation
from execplanner.simcloud.default_catalogue import CANONICAL_SIM_URL, rebase
from execplanner.simcloud.spec import FederationSpec, QuotaSpec, load_federation
from support.builders import roomy, web_desktop_lease

PREFIX = "execplanner-"
FIP_DESCRIPTION = "execplanner session "
ROOM = 20  # times each default quota per project: many sessions of many rounds at once


def roomy_federation() -> FederationSpec:
    """The bundled federation, with every site's quota and address pool widened (the matrix tests crashes, not
    capacity)."""
    spec = load_federation()
    for site in spec.sites:
        site.quota = QuotaSpec(**{name: value * ROOM for name, value in QuotaSpec().model_dump().items()})
        for vo in site.vos:
            vo.quota = {}
        for network in site.networks:
            for subnet in network.subnets:
                subnet.allocation_pools = []  # the whole subnet: some sites have three floating IPs
    return spec


def catalogue_for(fed: SimFederation, path: Path) -> Path:
    """The bundled catalogue, pointing at `fed` and with its quotas lifted, saved at `path`."""
    roomy(rebase(Catalogue.load(default_catalogue_path()), CANONICAL_SIM_URL, fed.base_url)).save(path)
    return path


def leftovers(fed: SimFederation) -> list[str]:
    """Every object of an execplanner session at any site: servers, floating IPs, volumes, security groups,
    keypairs, application credentials. Empty when nothing leaked."""
    found: list[str] = []
    for name, site in fed.federation.sites.items():
        with site.lock:
            found += [f"{name} server {s.name}" for s in site.servers.values() if s.name.startswith(PREFIX)]
            found += [
                f"{name} floating IP {f.address} ({f.description})"
                for f in site.floating_ips.values()
                if (f.description or "").startswith(FIP_DESCRIPTION)
            ]
            found += [f"{name} volume {v.name}" for v in site.volumes.values() if v.name.startswith(PREFIX)]
            found += [
                f"{name} security group {g.name}" for g in site.security_groups.values() if g.name.startswith(PREFIX)
            ]
            found += [f"{name} keypair {k.name}" for k in site.keypairs.values() if k.name.startswith(PREFIX)]
            found += [
                f"{name} application credential {a.name}"
                for a in site.app_credentials.values()
                if a.name.startswith(PREFIX)
            ]
    return found


def servers_of(fed: SimFederation, session: str) -> int:
    """How many servers the session has, at all sites together (a retried launch must not make a second)."""
    name = PREFIX + session
    return sum(1 for site in fed.federation.sites.values() for s in list(site.servers.values()) if s.name == name)


def short_lease(catalogue: Catalogue, site: str, vo: str, available_in: float, seconds: float) -> Session:
    """An OFFERED-free session (phase INITIAL, to be accepted by the caller) for a web container at `site`, whose
    `available` block starts in `available_in` seconds and lasts `seconds`: a lease that RUNS and ends within a
    test, which the planner's five-minute preparing blocks do not allow."""
    return web_desktop_lease(catalogue, site, vo, datetime.now(UTC), available_in, seconds)

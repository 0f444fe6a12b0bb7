"""Builders for what many tests make: catalogues (whole or a site at a time) and opened stores.

Values are the smallest that say what a test means; anything a test asserts on, it passes explicitly.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from execplanner.catalogue import (
    Catalogue,
    Flavor,
    Gpu,
    Image,
    Network,
    NetworkRole,
    PublicAccess,
    Quota,
    QuotaItem,
    Site,
    SiteVO,
)
from execplanner.model.documents import MinMax, OfferSetRequest, Placement, ScheduleBlock, ScheduleOffer
from execplanner.planner.plan import Offer, Plan
from execplanner.store.database import Store

UBUNTU_DOCKER = Image(
    id="i1",
    name="Ubuntu 22.04 Docker",
    os_family="linux",
    os_distro="ubuntu",
    os_version="22.04",
    appliances=["docker"],
)
PROVIDER_NETWORK = Network(id="n1", name="provider-1", role=NetworkRole.PUBLIC, access=PublicAccess.DIRECT)


def flavor(name: str, vcpus: int, ram_gib: int, disk: int = 40, gpu: Gpu | None = None) -> Flavor:
    return Flavor(id=f"id-{name}", name=name, vcpus=vcpus, ram=ram_gib * 1024, disk=disk, gpu=gpu)


def quota(instances: int = 10, cores: int = 40, ram_gib: int = 80, fips: int = 5) -> Quota:
    return Quota(
        instances=QuotaItem(limit=instances),
        cores=QuotaItem(limit=cores),
        ram=QuotaItem(limit=ram_gib * 1024),
        floating_ips=QuotaItem(limit=fips),
    )


def one_site(
    name: str,
    vo: str,
    flavors: list[Flavor],
    *,
    images: list[Image] | None = None,
    networks: list[Network] | None = None,
    site_quota: Quota | None = None,
    project_id: str | None = None,
    endpoint: str | None = None,
) -> Site:
    """A site serving one VO; an Ubuntu image with Docker and a directly reachable network unless told."""
    return Site(
        name=name,
        endpoint=endpoint or f"https://{name.lower()}.example.org:5000/v3",
        vos=[
            SiteVO(
                vo=vo,
                project_id=project_id or f"p-{name.lower()}",
                flavors=flavors,
                images=[UBUNTU_DOCKER] if images is None else images,
                networks=[PROVIDER_NETWORK] if networks is None else networks,
                quota=site_quota or quota(),
            )
        ],
    )


def roomy(catalogue: Catalogue) -> Catalogue:
    """The same catalogue with every instance, core, RAM and floating-IP quota lifted: for tests of the protocol,
    not of capacity."""
    copy = catalogue.model_copy(deep=True)
    for site in copy.sites:
        for site_vo in site.vos:
            if site_vo.quota is not None:
                for name in ("instances", "cores", "ram", "floating_ips"):
                    setattr(site_vo.quota, name, QuotaItem(limit=None, in_use=0))
    return copy


@contextmanager
def opened_store(url: str) -> Iterator[Store]:
    """A store on `url` (migrated), closed afterwards."""
    store = Store.open(url)
    try:
        yield store
    finally:
        store.close()


def one_core_offers(count: int, block: timedelta) -> Callable[..., Plan]:
    """A planner that offers `count` one-core VMs at sites S0, S1, … starting now, each schedule block `block`
    long: for tests of what the store and scheduler do with offers, whatever the catalogue."""

    def plan(request: OfferSetRequest, holds: Any, now: datetime, caller: Any = None) -> Plan:
        schedule_block = ScheduleBlock(start=now, duration=block)
        schedule = ScheduleOffer(preparing=schedule_block, available=schedule_block, releasing=schedule_block)
        return Plan(
            offers=[
                Offer(
                    placement=Placement(site=f"S{i}", vo="v", flavor_id="f", flavor_name="f", cores=1, memory_mib=1024),
                    schedule=schedule,
                    cores=MinMax(min=1, max=1),
                    memory_gib=MinMax(min=1, max=1),
                )
                for i in range(count)
            ]
        )

    return plan

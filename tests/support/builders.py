"""Builders for what many tests make: catalogues (whole or a site at a time) and opened stores.

Values are the smallest that say what a test means; anything a test asserts on, it passes explicitly.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
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
from execplanner.model.documents import (
    Executable,
    MinMax,
    OfferSetRequest,
    Placement,
    Port,
    ScheduleBlock,
    ScheduleOffer,
    Session,
    StorageResource,
)
from execplanner.model.documents import Image as ImageRef
from execplanner.model.phase import Phase
from execplanner.model.requirements import ExecutableKind
from execplanner.planner.federation import FederationPlanner
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
FLOATING_IP_NETWORK = Network(
    id="n1", name="public", role=NetworkRole.PUBLIC, access=PublicAccess.FLOATING_IP, external=True
)
VO_NETWORK = Network(id="n2", name="vo-net", role=NetworkRole.VO_PRIVATE)


def flavor(name: str, vcpus: int, ram_gib: int, disk: int = 40, gpu: Gpu | None = None) -> Flavor:
    return Flavor(id=f"id-{name}", name=name, vcpus=vcpus, ram=ram_gib * 1024, disk=disk, gpu=gpu)


def quota(instances: int = 10, cores: int = 40, ram_gib: int = 80, fips: int = 5) -> Quota:
    return Quota(
        instances=QuotaItem(limit=instances),
        cores=QuotaItem(limit=cores),
        ram=QuotaItem(limit=ram_gib * 1024),
        floating_ips=QuotaItem(limit=fips),
    )


def limits(**items: int | QuotaItem) -> Quota:
    """A quota limiting only the named items (`instances=3`, or a `QuotaItem` where something is in use); the
    rest unlimited. For capacity tests, which name exactly the limits they exercise."""
    return Quota(
        **{name: item if isinstance(item, QuotaItem) else QuotaItem(limit=item) for name, item in items.items()}
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


def federation(*sites: Site, source: str = "test") -> Catalogue:
    """A catalogue of these sites."""
    return Catalogue(source=source, sites=list(sites))


def planner_over(catalogue: Catalogue, vo: str, max_offers: int) -> FederationPlanner:
    """The catalogue-backed planner over a fixed catalogue, `vo` the default VO."""
    return FederationPlanner(catalogue=lambda: catalogue, default_vo=vo, max_offers=max_offers)


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


def empty_store(store: Store) -> Store:
    """Every row of the store deleted, and the holds' change counter moved on (as any change to the holds moves
    it): what a new migrated database holds, for a test that shares its module's database."""
    from execplanner.store import records, tables

    with store.transaction() as conn:
        for table in reversed(tables.metadata.sorted_tables):
            if table is not tables.capacity_version:
                conn.execute(table.delete())
        records._holds_changed(conn)
    return store


def placement(site: str, cores: int = 1, floating_ips: int = 0, vo: str = "v", mib_per_core: int = 1024) -> Placement:
    """One VM of flavor "f" at `site`: `cores` cores, `mib_per_core` MiB of RAM each."""
    return Placement(
        site=site,
        vo=vo,
        flavor_id="f",
        flavor_name="f",
        cores=cores,
        memory_mib=cores * mib_per_core,
        floating_ips=floating_ips,
    )


def web_desktop_lease(
    catalogue: Catalogue,
    site: str,
    vo: str,
    prepare_at: datetime,
    prepare_for: float,
    seconds: float,
    ssh_public_key: str | None = None,
    storage: list[StorageResource] | None = None,
) -> Session:
    """A session (phase INITIAL, for the caller to accept) for the Oligia web desktop on one m1.small VM of the
    simulated site: preparing from `prepare_at` for `prepare_for` seconds, then available for `seconds`, then a
    minute of releasing; a lease that runs and ends within a test, which the planner's preparing blocks do not
    allow."""
    site_vo = catalogue.site(site).vo(vo)  # type: ignore[union-attr]
    flavor = site_vo.flavor("m1.small")
    image = site_vo.image("ubuntu-22.04-docker")
    start = prepare_at + timedelta(seconds=prepare_for)
    return Session(
        uuid=uuid.uuid4(),
        created=datetime.now(UTC),
        phase=Phase.INITIAL,
        executable=Executable(
            kind=ExecutableKind.DOCKER_CONTAINER,
            image=ImageRef(locations=["ghcr.io/ivoa/oligia-webtop:ubuntu-2022.01.13"]),
            ports=[Port(internal=3000, protocol="HTTP", path="/")],
        ),
        storage=storage or [],
        ssh_public_key=ssh_public_key,
        schedule=ScheduleOffer(
            preparing=ScheduleBlock(start=prepare_at, duration=timedelta(seconds=prepare_for)),
            available=ScheduleBlock(start=start, duration=timedelta(seconds=seconds)),
            releasing=ScheduleBlock(start=start + timedelta(seconds=seconds), duration=timedelta(seconds=60)),
        ),
        placement=Placement(
            site=site,
            vo=vo,
            project_id=site_vo.project_id,
            flavor_id=flavor.id,  # type: ignore[union-attr]
            flavor_name="m1.small",
            image_id=image.id,  # type: ignore[union-attr]
            public_access="floating-ip",
            cores=1,
            memory_mib=2048,
            floating_ips=1,
        ),
    )


def fixed_offers(placements: list[Placement], block: timedelta) -> Callable[..., Plan]:
    """A planner that offers exactly `placements`, in that order, starting now, each schedule block `block` long:
    for tests of what the store, the lifecycle and the scheduler do with offers, whatever the catalogue."""

    def plan(request: OfferSetRequest, holds: Any, now: datetime, caller: Any = None) -> Plan:
        schedule_block = ScheduleBlock(start=now, duration=block)
        schedule = ScheduleOffer(preparing=schedule_block, available=schedule_block, releasing=schedule_block)
        return Plan(
            offers=[
                Offer(
                    placement=where,
                    schedule=schedule,
                    cores=MinMax(min=where.cores, max=where.cores),
                    memory_gib=MinMax(min=where.memory_mib // 1024, max=where.memory_mib // 1024),
                )
                for where in placements
            ]
        )

    return plan


def one_core_offers(count: int, block: timedelta) -> Callable[..., Plan]:
    """`count` one-core, 1 GiB VMs at sites S0, S1, …"""
    return fixed_offers([placement(f"S{i}") for i in range(count)], block)

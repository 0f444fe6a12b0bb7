"""Readable tables of a catalogue for `execplanner catalogue show`."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from execplanner.catalogue.model import Catalogue, Quota, QuotaItem, Site, SiteStatus, SiteVO

_STATUS_STYLE = {SiteStatus.OK: "green", SiteStatus.UNREACHABLE: "red", SiteStatus.AUTH_ERROR: "yellow"}


def _quota_item(item: QuotaItem) -> str:
    return f"{item.in_use}/{'∞' if item.limit is None else item.limit}"


def _quota(quota: Quota | None) -> str:
    if quota is None:
        return "-"
    return (
        f"vm {_quota_item(quota.instances)} cores {_quota_item(quota.cores)} volume GiB {_quota_item(quota.gigabytes)}"
    )


def _public(site_vo: SiteVO) -> str:
    net = site_vo.public_network()
    return f"{net.name} ({net.access.value if net.access else '?'})" if net else "-"


def overview_table(catalogue: Catalogue, vo: str | None = None) -> Table:
    table = Table(title=f"{catalogue.source} — generated {catalogue.generated_at:%Y-%m-%d %H:%M} UTC")
    for column in ("site", "VO", "status", "flavors", "GPU flavors", "images", "public network", "quota used/limit"):
        table.add_column(column)
    for site in catalogue.sites:
        for site_vo in site.vos:
            if vo is not None and site_vo.vo != vo:
                continue
            style = _STATUS_STYLE[site_vo.status]
            status = f"[{style}]{site_vo.status.value}[/]" + (f" {site_vo.error}" if site_vo.error else "")
            table.add_row(
                site.name,
                site_vo.vo,
                status,
                str(len(site_vo.flavors)),
                str(sum(1 for f in site_vo.flavors if f.gpu)),
                str(len(site_vo.images)),
                _public(site_vo),
                _quota(site_vo.quota),
            )
    return table


def site_tables(site: Site, site_vo: SiteVO) -> list[Table]:
    """Flavors, images and networks of one site as one VO sees them."""
    prefix = f"{site.name} / {site_vo.vo}"
    flavors = Table(title=f"{prefix}: flavors")
    for column in ("name", "vCPUs", "RAM MiB", "disk GiB", "GPU"):
        flavors.add_column(column)
    for f in site_vo.flavors:
        gpu = f"{f.gpu.count}× {f.gpu.vendor or '?'} {f.gpu.model or ''}".strip() if f.gpu else ""
        flavors.add_row(f.name, str(f.vcpus), str(f.ram), str(f.disk), gpu)
    images = Table(title=f"{prefix}: images")
    for column in ("name", "OS", "version", "appliances", "arch"):
        images.add_column(column)
    for i in site_vo.images:
        images.add_row(i.name, i.os_distro or "?", i.os_version or "?", ", ".join(i.appliances), i.architecture or "")
    networks = Table(title=f"{prefix}: networks")
    for column in ("name", "role", "access", "evidence", "CIDRs"):
        networks.add_column(column)
    for n in site_vo.networks:
        access = n.access.value if n.access else ""
        networks.add_row(n.name, n.role.value, access, ", ".join(n.evidence), ", ".join(n.cidrs))
    return [flavors, images, networks]


def print_catalogue(console: Console, catalogue: Catalogue, vo: str | None, site: str | None) -> None:
    if site is None:
        console.print(overview_table(catalogue, vo))
        return
    found = catalogue.site(site)
    if found is None:
        return
    for site_vo in found.vos:
        if vo is None or site_vo.vo == vo:
            if site_vo.status is not SiteStatus.OK:
                console.print(f"{found.name} / {site_vo.vo}: {site_vo.status.value}: {site_vo.error}")
                continue
            for table in site_tables(found, site_vo):
                console.print(table)

"""What the dashboard's templates show, worked out here so the templates only lay it out: one row per site
and VO with its quota and what is held there, a session's access links, and filters for times and sizes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from execplanner.catalogue import Catalogue
from execplanner.catalogue.model import NetworkRole, Quota, QuotaItem, SiteStatus
from execplanner.model.capacity import Usage
from execplanner.model.documents import Session
from execplanner.model.phase import FINAL_PHASES, Phase


@dataclass(frozen=True)
class Gauge:
    """One quota figure as people read it: used by the site, held by us, and the limit (None: no limit)."""

    in_use: int
    held: int
    limit: int | None

    @property
    def percent(self) -> int:
        if not self.limit:
            return 0
        return min(100, round(100 * (self.in_use + self.held) / self.limit))


@dataclass(frozen=True)
class SiteRow:
    site: str
    vo: str
    status: str
    error: str | None
    flavors: int
    images: int
    public_networks: list[str]
    cores: Gauge
    ram_gib: Gauge
    instances: Gauge
    floating_ips: Gauge


def _gauge(item: QuotaItem | None, held: int, scale: int = 1) -> Gauge:
    if item is None:
        return Gauge(0, held // scale, None)
    limit = None if item.limit is None else item.limit // scale
    return Gauge(item.in_use // scale, held // scale, limit)


def site_rows(catalogue: Catalogue, held: dict[tuple[str, str], Usage]) -> list[SiteRow]:
    """Every (site, VO) of the catalogue, with its quota and what offers and sessions hold there now."""
    rows = []
    for site in catalogue.sites:
        for site_vo in site.vos:
            usage = held.get((site.name, site_vo.vo), Usage())
            quota = site_vo.quota or Quota()
            ok = site.status is SiteStatus.OK and site_vo.status is SiteStatus.OK
            rows.append(
                SiteRow(
                    site=site.name,
                    vo=site_vo.vo,
                    status="ok" if ok else (site_vo.status if site.status is SiteStatus.OK else site.status).value,
                    error=site.error or site_vo.error,
                    flavors=len(site_vo.flavors),
                    images=len(site_vo.images),
                    public_networks=[n.name for n in site_vo.networks if n.role is NetworkRole.PUBLIC],
                    cores=_gauge(quota.cores, usage.cores),
                    ram_gib=_gauge(quota.ram, usage.memory_mib, 1024),
                    instances=_gauge(quota.instances, usage.instances),
                    floating_ips=_gauge(quota.floating_ips, usage.floating_ips),
                )
            )
    return rows


def access_links(session: Session) -> list[tuple[str, str]]:
    """(status, URL) for each way into the running executable that the lifecycle has published."""
    return [(method.status, url) for method in session.executable.access for url in method.locations]


def when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def duration(span: timedelta | None) -> str:
    if span is None:
        return "—"
    minutes = int(span.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


def until(moment: datetime | None) -> str:
    """How long from now until `moment`, as people say it ("in 4 min", "2 min ago")."""
    if moment is None:
        return ""
    seconds = int((moment - datetime.now(UTC)).total_seconds())
    span = duration(timedelta(seconds=abs(seconds))) if abs(seconds) >= 60 else f"{abs(seconds)} s"
    return f"in {span}" if seconds >= 0 else f"{span} ago"


def gib(mib: int) -> str:
    return f"{mib / 1024:g} GiB"


def phase_class(phase: Phase | str) -> str:
    """A CSS class per kind of phase: offered, live, good end, bad end."""
    phase = Phase(phase)
    if phase is Phase.OFFERED:
        return "phase-offered"
    if phase in (Phase.COMPLETED,):
        return "phase-done"
    if phase in FINAL_PHASES:
        return "phase-ended"
    return "phase-live"


FILTERS = {"when": when, "duration": duration, "until": until, "gib": gib, "phase_class": phase_class}

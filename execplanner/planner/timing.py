"""When: candidate starts, which of them the calendar has room for, and the offers chosen among them.

Ranking (deterministic): each site that fits gets its own list of feasible starts, earliest first; sites are
ranked by their earliest feasible start, then by fit; offers are taken along diagonals of (start index, site
rank) — the earliest start at the best site first, then the next site and the next start alternately — so a
client gets both a choice of sites and a choice of times. Offers of one set are mutually exclusive, so they
never compete with each other for room: each is checked against what others hold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache

from execplanner.model.capacity import Usage
from execplanner.model.documents import ExecutableKind, MinMax, Placement, ScheduleBlock, ScheduleOffer
from execplanner.planner.calendar import Calendar, ceiling_for, shortfall
from execplanner.planner.match import Fit, floating_ips_of
from execplanner.planner.needs import Needs
from execplanner.planner.plan import Offer
from execplanner.planner.schedule import interval_end

PREPARING: dict[ExecutableKind, timedelta] = {
    ExecutableKind.JUPYTER_NOTEBOOK: timedelta(minutes=5),
    ExecutableKind.DOCKER_CONTAINER: timedelta(minutes=5),
    ExecutableKind.SINGULARITY_CONTAINER: timedelta(minutes=5),
    ExecutableKind.DOCKER_COMPOSE: timedelta(minutes=6),
    ExecutableKind.BINDER_REPOSITORY: timedelta(minutes=15),
    ExecutableKind.SNAKEMAKE_WORKFLOW: timedelta(minutes=10),
}
RELEASING = timedelta(minutes=2)
START_STEP = timedelta(hours=1)
HORIZON = timedelta(hours=24)  # without requested start intervals, later starts are offered within this
MAX_CANDIDATES = 96  # starts tried per site


@dataclass(frozen=True)
class Span:
    """Where a start may fall: [earliest, latest]."""

    earliest: datetime
    latest: datetime


def start_spans(needs: Needs, now: datetime) -> list[Span]:
    """The requested start intervals that have not passed (clipped to now), or now and the next hours."""
    if not needs.windows:
        return [Span(now, now + HORIZON)]
    spans = [
        Span(max(window.start, now), interval_end(window))
        for window in sorted(needs.windows, key=lambda w: w.start)
        if interval_end(window) >= now
    ]
    return spans


def preparing_of(needs: Needs) -> timedelta:
    """The time budgeted before the VM is usable. A Binder repository with its prebuilt image is pulled and run
    like a container (cloud-init does not build it then), not built with repo2docker."""
    kind = ExecutableKind.DOCKER_CONTAINER if needs.prebuilt else needs.kind
    return PREPARING.get(kind, timedelta(minutes=5))


def held_for(needs: Needs) -> timedelta:
    """How long an offer holds capacity: from the start of preparing to the end of releasing."""
    return preparing_of(needs) + (needs.duration_max or needs.duration) + RELEASING


def need_of(fit: Fit, needs: Needs) -> Usage:
    """What one VM of this fit takes from the site's quota while it is held."""
    flavor = fit.flavor
    return Usage(
        instances=1,
        cores=flavor.vcpus,
        memory_mib=flavor.ram,
        floating_ips=floating_ips_of(fit),
        gpus=flavor.gpu.count if flavor.gpu else 0,
        volumes=needs.volumes,
        gigabytes=needs.volume_gib,
    )


def _candidates(spans: list[Span], calendar: Calendar) -> list[datetime]:
    """Each span's start and hourly steps after it, and every instant in a span where the commitment changes."""
    starts: set[datetime] = set()
    for span in spans:
        start = span.earliest
        while start <= span.latest and len(starts) < MAX_CANDIDATES:
            starts.add(start)
            start += START_STEP
        for change in calendar.ends_after(span.earliest):
            if change > span.latest or len(starts) >= 2 * MAX_CANDIDATES:
                break
            starts.add(min(_whole_second(change), span.latest))
    return sorted(starts)[: 2 * MAX_CANDIDATES]


def _whole_second(instant: datetime) -> datetime:
    return instant if not instant.microsecond else instant.replace(microsecond=0) + timedelta(seconds=1)


def fits_at(fit: Fit, calendar: Calendar, need: Usage, start: datetime, length: timedelta) -> str | None:
    """None if the site has room for `need` throughout [start, start + length); else what is short."""
    return shortfall(fit.site_vo.quota, calendar.peak(start, start + length), need)


def feasible_starts(fit: Fit, calendar: Calendar, needs: Needs, spans: list[Span], count: int) -> list[datetime]:
    """The first `count` candidate starts, at least START_STEP apart (a choice of times, not of seconds), at
    which this site has room for the whole hold."""
    ceiling = _remembered("ceiling", fit, needs, None, lambda: ceiling_for(fit.site_vo.quota, need_of(fit, needs)))
    assert isinstance(ceiling, tuple)
    found: list[datetime] = []
    for start in calendar.feasible(_candidates(spans, calendar), held_for(needs), ceiling):
        if found and start < found[-1] + START_STEP:
            continue
        found.append(start)
        if len(found) == count:
            break
    return found


def free_from(fit: Fit, calendar: Calendar, needs: Needs, after: datetime) -> datetime | None:
    """The earliest instant after `after` from which the site has room for the whole hold (None: never)."""
    need, length = need_of(fit, needs), held_for(needs)
    ceiling = ceiling_for(fit.site_vo.quota, need)
    return next(iter(calendar.feasible([after, *calendar.ends_after(after)], length, ceiling)), None)


def choose(options: list[tuple[Fit, list[datetime]]], needs: Needs, vo: str, limit: int) -> list[Offer]:
    """Offers along the diagonals of (start index, site rank), sites ranked by their earliest feasible start
    first (so the first offer is the earliest start anywhere), then by how well they fit."""
    options = sorted(options, key=lambda option: option[1][0])  # stable: ties keep the fit ranking
    pairs = sorted(
        ((i, j) for j, (_fit, starts) in enumerate(options) for i in range(len(starts))),
        key=lambda p: (p[0] + p[1], p),
    )
    return [offer(options[j][0], options[j][1][i], needs, vo) for i, j in pairs[:limit]]


# What follows from a site's fit and a shape of need repeats across requests: the need and the ceiling it is checked
# against, the placement, the schedule of a start on the hourly grid, a flavor's cores and memory. Each is built
# (and validated) once and shared: offers and the sessions made from them are never changed in place (a phase
# change writes a new document). Fits are kept by the planner's match cache for as long as the catalogue lasts.
_PER_FIT: dict[tuple[object, ...], tuple[Fit, object]] = {}
_CACHED = 4096


def _remembered(what: str, fit: Fit, needs: Needs, extra: object, build: Callable[[], object]) -> object:
    key = (what, id(fit), needs.volumes, needs.volume_gib, extra)
    found = _PER_FIT.get(key)
    if found is not None and found[0] is fit:  # the same Fit object, not one that reused a dead one's id
        return found[1]
    value = build()
    if len(_PER_FIT) >= _CACHED:  # catalogue reloads leave old fits behind: start again rather than grow
        _PER_FIT.clear()
    _PER_FIT[key] = (fit, value)  # keeps `fit` alive, so its id cannot be reused while the entry exists
    return value


def _placement(fit: Fit, needs: Needs, vo: str) -> Placement:
    placement = _remembered("placement", fit, needs, vo, lambda: _new_placement(fit, needs, vo))
    assert isinstance(placement, Placement)
    return placement


def _new_placement(fit: Fit, needs: Needs, vo: str) -> Placement:
    flavor = fit.flavor
    return Placement(
        site=fit.site.name,
        vo=vo,
        project_id=fit.site_vo.project_id,
        flavor_id=flavor.id,
        flavor_name=flavor.name,
        image_id=fit.image.id,
        image_name=fit.image.name,
        network_id=fit.network.id if fit.network else None,
        network_name=fit.network.name if fit.network else None,
        public_access=fit.public_access.value if fit.public_access else None,
        cores=flavor.vcpus,
        memory_mib=flavor.ram,
        disk_gib=flavor.disk,
        gpus=flavor.gpu.count if flavor.gpu else 0,
        floating_ips=floating_ips_of(fit),
        volumes=needs.volumes,
        volume_gib=needs.volume_gib,
    )


@lru_cache(maxsize=_CACHED)
def _schedule(start: datetime, zone: tzinfo | None, preparing: timedelta, duration: timedelta) -> ScheduleOffer:
    """`zone`: equal instants in different zones are equal keys, but are written with their own offsets."""
    available = start + preparing
    return ScheduleOffer(
        preparing=ScheduleBlock(start=start, duration=preparing),
        available=ScheduleBlock(start=available, duration=duration),
        releasing=ScheduleBlock(start=available + duration, duration=RELEASING),
    )


@lru_cache(maxsize=256)
def _exactly(amount: int) -> MinMax:
    return MinMax(min=amount, max=amount)


def offer(fit: Fit, start: datetime, needs: Needs, vo: str) -> Offer:
    flavor = fit.flavor
    return Offer(
        placement=_placement(fit, needs, vo),
        schedule=_schedule(start, start.tzinfo, preparing_of(needs), needs.duration_max or needs.duration),
        cores=_exactly(flavor.vcpus),
        memory_gib=_exactly(flavor.ram // 1024),
    )

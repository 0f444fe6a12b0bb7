"""The catalogue-backed planner: which EGI sites can run this, on which flavor, image and network, and when.

Ranking (documented in docs/planner.md, deterministic): candidate (start, site) pairs are taken along
diagonals — the earliest start at the best site first, then the next site and the next start alternately —
so a client gets both a choice of sites and a choice of times. Sites are ordered by how ready their image is (a Docker
or Jupyter appliance beats installing it at boot), then least waste (spare cores and memory relative to the
need), then name. Capacity is accounted as offers are chosen, so one offer set
never promises more than a site's quota either.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from execplanner.catalogue.model import Catalogue
from execplanner.model.capacity import Usage
from execplanner.model.documents import (
    ExecutableKind,
    MinMax,
    OfferSetRequest,
    Placement,
    ScheduleBlock,
    ScheduleOffer,
)
from execplanner.model.message import Message
from execplanner.planner.match import Failed, Fit, Misfit, floating_ips_of, headroom, static_fit
from execplanner.planner.needs import Needs, needs_of, requirements_of
from execplanner.planner.plan import ANONYMOUS, VM_OPERATOR, Caller, Offer, Plan
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


@dataclass
class Matches:
    """The sites that can run one shape of need, best first, and why the others cannot."""

    fits: list[Fit]
    misfits: list[Misfit]


class MatchCache:
    """Static matches per (VO, shape) for the current catalogue object: the catalogue is immutable between
    reloads, so only quota headroom has to be checked per request. A reload (a new object) empties it."""

    def __init__(self, size: int = 512) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._catalogue: Catalogue | None = None
        self._entries: OrderedDict[tuple[object, ...], Matches | None] = OrderedDict()
        self._vos: frozenset[str] = frozenset()

    def vos(self, catalogue: Catalogue) -> frozenset[str]:
        """The VOs the catalogue knows, computed once per catalogue object (not per request)."""
        with self._lock:
            if catalogue is self._catalogue:
                return self._vos
        vos = frozenset(catalogue.vos())
        with self._lock:
            if catalogue is not self._catalogue:
                self._catalogue, self._entries = catalogue, OrderedDict()
            self._vos = vos
        return vos

    def get(self, catalogue: Catalogue, vo: str, needs: Needs) -> Matches | None:
        key = (vo, needs.shape)
        with self._lock:
            if catalogue is self._catalogue and key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = _match(catalogue, vo, needs)
        with self._lock:
            if catalogue is not self._catalogue:
                self._catalogue, self._entries, self._vos = catalogue, OrderedDict(), frozenset(catalogue.vos())
            self._entries[key] = value
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return value


def _match(catalogue: Catalogue, vo: str, needs: Needs) -> Matches | None:
    candidates = catalogue.sites_for_vo(vo)
    if not candidates:
        return None
    fits: list[Fit] = []
    misfits: list[Misfit] = []
    for site, site_vo in candidates:
        result = static_fit(site, site_vo, needs)
        if isinstance(result, Fit):
            fits.append(result)
        else:
            misfits.append(result)
    fits.sort(key=lambda f: (f.image_rank, f.waste, f.site.name))
    return Matches(fits, misfits)


@dataclass(frozen=True)
class FederationPlanner:
    """Plans against whatever catalogue `catalogue()` returns now (so a reload takes effect at once)."""

    catalogue: Callable[[], Catalogue]
    default_vo: str
    max_offers: int = 4
    _matches: MatchCache = field(default_factory=MatchCache, compare=False, repr=False)

    def __call__(
        self,
        request: OfferSetRequest,
        usage: dict[tuple[str, str], Usage],
        now: datetime,
        caller: Caller = ANONYMOUS,
    ) -> Plan:
        requirements = requirements_of(request)
        needs = needs_of(request)
        catalogue = self.catalogue()
        vo, chosen = choose_vo(request.vo, caller, self.default_vo, lambda: self._matches.vos(catalogue))
        refusal = entitlement_refusal(caller, vo)
        if refusal:
            return Plan(messages=[refusal])
        matches = self._matches.get(catalogue, vo, needs)
        if matches is None:
            return Plan(messages=[Message.error("no reachable site in the catalogue supports the VO {vo}", vo=vo)])
        starts = start_times(needs, now, self.max_offers)
        if not starts:
            return Plan(messages=[Message.error("every requested start window has already passed")])
        fits: list[Fit] = []
        full: list[Misfit] = []
        for fit in matches.fits:  # best first: stop once there are enough candidates
            short = headroom(fit.site_vo, usage.get((fit.site.name, vo), Usage()), fit.flavor, floating_ips_of(fit))
            if short:
                full.append(Misfit(fit.site.name, Failed.QUOTA, short))
            else:
                fits.append(fit)
                if len(fits) == 2 * self.max_offers:
                    break
        if not fits:
            return Plan(messages=explain([*matches.misfits, *full], needs, vo))
        offers = _choose(fits, starts, needs, usage, vo, self.max_offers)
        return Plan(offers=offers, messages=[*chosen, *requirements.messages])


def choose_vo(
    requested: str | None, caller: Caller, default_vo: str, known: Callable[[], Collection[str]]
) -> tuple[str, list[Message]]:
    """The VO to plan for: the request's; else one the caller's token names that the catalogue knows (the
    default VO if they are in it, else one they may launch in, else the first); else the configured default.
    Says so when the token chose."""
    if requested:
        return requested, []
    if not caller.vos:
        return default_vo, []
    catalogued = known()
    candidates = [vo for vo in caller.vos if vo in catalogued]
    if not candidates or default_vo in candidates:
        return default_vo, []
    launchable = [vo for vo in candidates if caller.launch_known(vo)]
    vo = (launchable or candidates)[0]
    return vo, [Message.info("the request names no VO; planned for {vo}, which your token names", vo=vo)]


def entitlement_refusal(caller: Caller, vo: str) -> Message | None:
    """EGI FedCloud sites let a VO member launch only with the VO's vm_operator entitlement: refuse up front,
    saying which entitlement is missing, when the caller's token shows they lack it."""
    may_launch = caller.launch_known(vo)
    if may_launch is None or may_launch:
        return None
    entitlement = VM_OPERATOR.format(vo=vo)
    if vo not in caller.vos:
        return Message.error(
            "your token shows no membership of {vo}; EGI FedCloud sites launch virtual machines for {vo} only for "
            "members holding the entitlement {entitlement}",
            vo=vo,
            entitlement=entitlement,
        )
    return Message.error(
        "you are a member of {vo} but lack the entitlement {entitlement}: EGI FedCloud sites let only VO members "
        "with the vm_operator role launch virtual machines; ask the VO's managers for that role",
        vo=vo,
        entitlement=entitlement,
    )


def start_times(needs: Needs, now: datetime, count: int) -> list[datetime]:
    """Candidate starts: hourly from now, or hourly within each requested window (none in the past)."""
    if not needs.windows:
        return [now + i * START_STEP for i in range(count)]
    starts: list[datetime] = []
    for window in sorted(needs.windows, key=lambda w: w.start):
        latest = interval_end(window)
        start = max(window.start, now)
        while start <= latest and len(starts) < count:
            starts.append(start)
            start += START_STEP
    return sorted(set(starts))[:count]


def _choose(
    fits: list[Fit], starts: list[datetime], needs: Needs, usage: dict[tuple[str, str], Usage], vo: str, limit: int
) -> list[Offer]:
    held = dict(usage)
    pairs = sorted(((i, j) for i in range(len(starts)) for j in range(len(fits))), key=lambda p: (p[0] + p[1], p))
    offers: list[Offer] = []
    for i, j in pairs:
        if len(offers) == limit:
            break
        fit = fits[j]
        floating = floating_ips_of(fit)
        key = (fit.site.name, vo)
        current = held.get(key, Usage())
        if headroom(fit.site_vo, current, fit.flavor, floating):
            continue
        held[key] = replace(
            current,
            instances=current.instances + 1,
            cores=current.cores + fit.flavor.vcpus,
            memory_mib=current.memory_mib + fit.flavor.ram,
            floating_ips=current.floating_ips + floating,
        )
        offers.append(_offer(fit, starts[i], needs, vo, floating))
    return offers


def _offer(fit: Fit, start: datetime, needs: Needs, vo: str, floating: int) -> Offer:
    preparing = PREPARING.get(needs.kind, timedelta(minutes=5))
    duration = needs.duration_max or needs.duration
    available = start + preparing
    flavor = fit.flavor
    return Offer(
        placement=Placement(
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
            floating_ips=floating,
        ),
        schedule=ScheduleOffer(
            preparing=ScheduleBlock(start=start, duration=preparing),
            available=ScheduleBlock(start=available, duration=duration),
            releasing=ScheduleBlock(start=available + duration, duration=RELEASING),
        ),
        cores=MinMax(min=flavor.vcpus, max=flavor.vcpus),
        memory_gib=MinMax(min=flavor.ram // 1024, max=flavor.ram // 1024),
    )


def explain(misfits: list[Misfit], needs: Needs, vo: str) -> list[Message]:
    """One plain-words message per requirement that no site met."""
    by_failure: dict[Failed, list[Misfit]] = {}
    for misfit in misfits:
        by_failure.setdefault(misfit.failed, []).append(misfit)
    messages = []
    for failed, group in by_failure.items():
        sites = ", ".join(sorted(m.site for m in group))
        messages.append(_explain_one(failed, group, needs, vo, sites))
    return messages


def _largest(group: list[Misfit]) -> tuple[int, str]:
    best = max(group, key=lambda m: (int(m.detail) if m.detail.isdigit() else -1, m.site))
    return (int(best.detail) if best.detail.isdigit() else 0), best.site


def _explain_one(failed: Failed, group: list[Misfit], needs: Needs, vo: str, sites: str) -> Message:
    if failed in (Failed.CORES, Failed.MEMORY):
        largest, where = _largest(group)
        wanted = needs.cores_min if failed is Failed.CORES else -(-needs.memory_min_mib // 1024)
        upper = (
            needs.cores_max
            if failed is Failed.CORES
            else (needs.memory_max_mib // 1024 if needs.memory_max_mib else None)
        )
        unit = "cores" if failed is Failed.CORES else "GiB RAM"
        short_unit = "cores" if failed is Failed.CORES else "GiB"
        if largest >= wanted and upper is not None:
            return Message.error(
                "no site supporting {vo} offers a flavor with between {min} and {max} {unit}",
                vo=vo,
                min=wanted,
                max=upper,
                unit=unit,
            )
        return Message.error(
            "no site supporting {vo} offers a flavor with {wanted} {unit}; largest is {largest} {short_unit} at {site}",
            vo=vo,
            wanted=wanted,
            unit=unit,
            largest=largest,
            short_unit=short_unit,
            site=where,
        )
    if failed is Failed.DISK:
        largest, where = _largest(group)
        return Message.error(
            "no site supporting {vo} offers a flavor with a {wanted} GiB disk; largest is {largest} GiB at {site}",
            vo=vo,
            wanted=needs.disk_min_gib,
            largest=largest,
            site=where,
        )
    if failed is Failed.GPU:
        what = " ".join(x for x in (str(needs.gpus), needs.gpu_vendor, needs.gpu_model) if x)
        available = "; ".join(f"{m.site}: {m.detail}" for m in group if m.detail != "none") or "none at all"
        return Message.error(
            "no site supporting {vo} offers a flavor with {what} GPU(s); GPUs available: {available}",
            vo=vo,
            what=what,
            available=available,
        )
    if failed is Failed.IMAGE:
        return Message.error("no {wanted} image at {sites}", wanted=group[0].detail, sites=sites)
    if failed is Failed.NETWORK:
        return Message.error(
            "no public network at {sites}, and this executable must be reachable on port(s) {ports}",
            sites=sites,
            ports=group[0].detail,
        )
    details = "; ".join(f"{m.site} ({m.detail})" for m in group)
    return Message.error("every suitable site is full for {vo}: {details}", vo=vo, details=details)

"""Why NO, in plain words: the requirement no site met, the real conflict when it is a combination of bounds,
the nearest way out (flavors that would fit if one bound were relaxed; when a full site has room again)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations

from execplanner.catalogue.model import Flavor, Site, SiteVO
from execplanner.model.message import Message
from execplanner.planner.match import Failed, Misfit, gpu_ok
from execplanner.planner.needs import Needs


@dataclass(frozen=True)
class Full:
    """A site that fits statically but has no room at any candidate start."""

    site: str
    short: str  # what is short at the first candidate start, e.g. "floating IPs: 5 of 5 in use or held"
    free_from: datetime | None  # when it has room for the whole hold again (None: never, the quota is too small)


def when(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H:%M:%SZ")


def explain_full(full: list[Full], vo: str, windowed: bool) -> Message:
    """'every suitable site is full for VO until T: SITE (what is short; room from T)…; offers from T are possible'."""
    earliest = min((f.free_from for f in full if f.free_from), default=None)
    span = "throughout the requested start times" if windowed else f"until {when(earliest)}" if earliest else "now"
    details = "; ".join(
        f"{f.site} ({f.short}" + (f"; room from {when(f.free_from)})" if f.free_from else "; too small a quota)")
        for f in full
    )
    outlook = f"; offers from {when(earliest)} are possible" if earliest else "; no start would fit within these quotas"
    return Message.error(
        "every suitable site is full for {vo} {span}: {details}{outlook}",
        vo=vo,
        span=span,
        details=details,
        outlook=outlook,
    )


def explain(misfits: list[Misfit], needs: Needs, vo: str, sites: list[tuple[Site, SiteVO]]) -> list[Message]:
    """One plain-words message per requirement that no site met."""
    by_failure: dict[Failed, list[Misfit]] = {}
    for misfit in misfits:
        by_failure.setdefault(misfit.failed, []).append(misfit)
    messages: list[Message] = []
    if Failed.CORES in by_failure or Failed.MEMORY in by_failure:
        conflict = flavor_conflict(needs, vo, sites)
        if conflict is not None:
            messages.append(conflict)
    for failed, group in by_failure.items():
        if failed not in (Failed.CORES, Failed.MEMORY):
            messages.append(_explain_one(failed, group, needs, vo))
    return messages


# --- flavors: which combination of bounds fails, and what is nearest --------------------------------------------


@dataclass(frozen=True)
class _Bound:
    words: str  # e.g. "≥ 5 cores"
    holds: Callable[[Flavor], bool]
    miss: Callable[[Flavor], float]  # how far a flavor is from meeting it (0 when it does)
    scale: float = 1.0  # the bound's own size, to compare misses of different bounds


def _bounds(needs: Needs) -> list[_Bound]:
    gib = -(-needs.memory_min_mib // 1024)
    bounds = [
        _Bound(
            f"≥ {needs.cores_min} cores",
            lambda f: f.vcpus >= needs.cores_min,
            lambda f: needs.cores_min - f.vcpus,
            needs.cores_min,
        ),
        _Bound(
            f"≥ {gib} GiB RAM",
            lambda f: f.ram >= needs.memory_min_mib,
            lambda f: (needs.memory_min_mib - f.ram) / 1024,
            needs.memory_min_mib / 1024,
        ),
    ]
    if needs.cores_max is not None:
        top = needs.cores_max
        bounds.append(_Bound(f"≤ {top} cores", lambda f: f.vcpus <= top, lambda f: f.vcpus - top, max(top, 1)))
    if needs.memory_max_mib is not None:
        top_mib = needs.memory_max_mib
        bounds.append(
            _Bound(
                f"≤ {top_mib // 1024} GiB RAM",
                lambda f: f.ram <= top_mib,
                lambda f: (f.ram - top_mib) / 1024,
                max(top_mib / 1024, 1),
            )
        )
    return bounds


def _smallest_conflict(bounds: list[_Bound], flavors: list[Flavor]) -> list[_Bound]:
    for size in range(1, len(bounds) + 1):
        for subset in combinations(bounds, size):
            if not any(all(b.holds(f) for b in subset) for f in flavors):
                return list(subset)
    return bounds


def flavor_conflict(needs: Needs, vo: str, sites: list[tuple[Site, SiteVO]]) -> Message | None:
    """'no flavor for VO has ≥ 5 cores with ≤ 9 GiB RAM; nearest: 8 cores / 16 GiB (SITE flavor), …'; None when
    no flavor has the GPUs asked for (the GPU message says so)."""
    flavors = [(site.name, f) for site, site_vo in sites for f in site_vo.flavors if gpu_ok(f, needs)]
    if not flavors:
        return None
    conflict = _smallest_conflict(_bounds(needs), [f for _, f in flavors])
    if len(conflict) == 1 and conflict[0].words.startswith("≥"):
        return _largest_message(conflict[0], needs, vo, flavors)
    nearest = _nearest(conflict, flavors)
    return Message.error(
        "no flavor for {vo} has {conflict}; nearest: {nearest}",
        vo=vo,
        conflict=" with ".join(b.words for b in conflict),
        nearest=", ".join(nearest) or "none",
    )


def _nearest(conflict: list[_Bound], flavors: list[tuple[str, Flavor]]) -> list[str]:
    """For each bound of the conflict, the flavor that meets all the others and comes closest to meeting it;
    closest (relative to the bound) first."""
    found: list[tuple[float, str]] = []
    for bound in conflict:
        others = [b for b in conflict if b is not bound]
        near = [
            (bound.miss(flavor), flavor.vcpus, flavor.ram, site, flavor.name)
            for site, flavor in flavors
            if all(b.holds(flavor) for b in others)
        ]
        if near:
            miss, vcpus, ram, site, name = min(near)
            found.append((miss / bound.scale, f"{vcpus} cores / {ram // 1024} GiB ({site} {name})"))
    return list(dict.fromkeys(text for _, text in sorted(found)))


def _largest_message(bound: _Bound, needs: Needs, vo: str, flavors: list[tuple[str, Flavor]]) -> Message:
    cores = bound.words.endswith("cores")
    site, best = max(flavors, key=lambda sf: ((sf[1].vcpus if cores else sf[1].ram), sf[0]))
    wanted = needs.cores_min if cores else -(-needs.memory_min_mib // 1024)
    return Message.error(
        "no site supporting {vo} offers a flavor with {wanted} {unit}; largest is {largest} {short_unit} at {site}",
        vo=vo,
        wanted=wanted,
        unit="cores" if cores else "GiB RAM",
        largest=best.vcpus if cores else best.ram // 1024,
        short_unit="cores" if cores else "GiB",
        site=site,
    )


def _explain_one(failed: Failed, group: list[Misfit], needs: Needs, vo: str) -> Message:
    sites = ", ".join(sorted(m.site for m in group))
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

"""The catalogue-backed planner: which EGI sites can run this, on which flavor, image and network, and when.

A pure function of (request with resolved requirements, catalogue, holds, time, caller). Sites are ordered by
how ready their image is (a Docker or Jupyter appliance beats installing it at boot), then least waste (spare
cores and memory relative to the need), then name; `timing.py` finds each site's feasible starts in the capacity
calendar and takes offers along diagonals of (start, site). Documented in docs/planner.md.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from execplanner.catalogue.model import Catalogue
from execplanner.model.capacity import Hold
from execplanner.model.documents import OfferSetRequest
from execplanner.model.message import Message
from execplanner.planner.calendar import Calendar, Commitments
from execplanner.planner.explain import Full, explain, explain_full, when
from execplanner.planner.match import Fit, Misfit, static_fit
from execplanner.planner.needs import Needs, needs_of, requirements_of
from execplanner.planner.plan import ANONYMOUS, VM_OPERATOR, Caller, Plan
from execplanner.planner.timing import choose as choose_offers
from execplanner.planner.timing import (
    feasible_starts,
    fits_at,
    free_from,
    held_for,
    need_of,
    start_spans,
)


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
        holds: Sequence[Hold],
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
        spans = start_spans(needs, now)
        if not spans:
            return Plan(messages=[Message.error("every requested start window has already passed")])
        committed = holds if isinstance(holds, Commitments) else Commitments(holds)
        options: list[tuple[Fit, list[datetime]]] = []
        full: list[Full] = []
        for fit in matches.fits:  # best first: stop once there are enough candidates
            calendar = committed.calendar((fit.site.name, vo))
            starts = feasible_starts(fit, calendar, needs, spans, self.max_offers)
            if starts:
                options.append((fit, starts))
                if len(options) == 2 * self.max_offers:
                    break
            else:
                full.append(_full(fit, calendar, needs, spans[0].earliest))
        if not options:
            reasons = explain(matches.misfits, needs, vo, catalogue.sites_for_vo(vo))
            return Plan(messages=[explain_full(full, vo, bool(needs.windows)), *reasons] if full else reasons)
        offers = choose_offers(options, needs, vo, self.max_offers)
        later = _later(offers[0].schedule.preparing.start, spans[0].earliest)
        return Plan(offers=offers, messages=[*chosen, *later, *requirements.messages])


def _full(fit: Fit, calendar: Calendar, needs: Needs, first: datetime) -> Full:
    short = fits_at(fit, calendar, need_of(fit, needs), first, held_for(needs)) or "no room at any requested start"
    return Full(fit.site.name, short, free_from(fit, calendar, needs, first))


def _later(earliest_offered: datetime, asked: datetime) -> list[Message]:
    """An info message when the asked-for start could not be met anywhere and offers start later."""
    if earliest_offered <= asked:
        return []
    return [
        Message.info(
            "no suitable site has room at {asked}; the earliest offer starts at {start}",
            asked=when(asked),
            start=when(earliest_offered),
        )
    ]


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

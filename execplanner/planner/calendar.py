"""Capacity as a calendar: what execplanner has committed at one site for one VO, instant by instant.

A `Calendar` is a step function built from holds: each hold adds its amounts over [start, end); holds of one
offer set (mutually exclusive siblings) add, at each instant, only their componentwise maximum there. A start
is feasible when, over the whole interval, quota − the site's own usage − the commitment still leaves room.
Pure and in memory: `booking/` loads the holds, the planner asks the calendar.
"""

from __future__ import annotations

import operator
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from execplanner.catalogue.model import Quota
from execplanner.model.capacity import NOTHING, Hold, Usage

Scope = tuple[str, str]  # (site, VO): one quota

# Which quota item limits each amount (GPUs have no OpenStack quota of their own: flavors and instances bound them).
QUOTA_ITEMS = {
    "instances": ("instances", "instances"),
    "cores": ("cores", "cores"),
    "memory_mib": ("ram", "RAM (MiB)"),
    "floating_ips": ("floating_ips", "floating IPs"),
    "volumes": ("volumes", "volumes"),
    "gigabytes": ("gigabytes", "volume GiB"),
}


@dataclass(frozen=True)
class Piece:
    """An amount committed over [start, end)."""

    start: datetime
    end: datetime
    usage: Usage


def envelope(pieces: list[Piece]) -> list[Piece]:
    """The componentwise maximum of mutually exclusive pieces, as non-overlapping pieces."""
    if len(pieces) <= 1:
        return list(pieces)
    edges = sorted({p.start for p in pieces} | {p.end for p in pieces})
    out: list[Piece] = []
    for start, end in zip(edges, edges[1:], strict=False):
        level = NOTHING
        for piece in pieces:
            if piece.start <= start and end <= piece.end:
                level = level.larger(piece.usage)
        if level != NOTHING:
            out.append(Piece(start, end, level))
    return out


Levels = tuple[int, ...]  # Usage.amounts(): plain tuples keep the sweeps in C
_ZERO: Levels = NOTHING.amounts()


class Calendar:
    """Committed amounts at one (site, VO) over time: levels[i] holds on [times[i], times[i+1]); nothing before
    times[0]. Built once from pieces by a sweep over their start and end instants."""

    def __init__(self, pieces: Iterable[Piece] = ()) -> None:
        deltas: dict[datetime, Levels] = {}
        for piece in pieces:
            if piece.end <= piece.start:
                continue
            amounts = piece.usage.amounts()
            deltas[piece.start] = tuple(map(operator.add, deltas.get(piece.start, _ZERO), amounts))
            deltas[piece.end] = tuple(map(operator.sub, deltas.get(piece.end, _ZERO), amounts))
        self._times = sorted(deltas)
        self._levels: list[Levels] = []
        level = _ZERO
        for at in self._times:
            level = tuple(map(operator.add, level, deltas[at]))
            self._levels.append(level)

    def peak(self, start: datetime, end: datetime) -> Usage:
        """The componentwise maximum committed at any instant of [start, end)."""
        first = bisect_right(self._times, start) - 1
        last = bisect_left(self._times, end)
        levels = self._levels[max(first, 0) : last]
        if first < 0:
            levels.append(_ZERO)
        if not levels:
            return NOTHING
        return Usage(*map(max, zip(*levels, strict=True)))

    def ends_after(self, start: datetime) -> list[datetime]:
        """Instants after `start` at which the commitment changes: where a start could newly become free."""
        return self._times[bisect_right(self._times, start) :]


def calendars(holds: Iterable[Hold]) -> dict[Scope, Calendar]:
    """One calendar per (site, VO); siblings of one offer set counted as their envelope."""
    pieces: dict[Scope, list[Piece]] = defaultdict(list)
    grouped: dict[tuple[Scope, UUID], list[Piece]] = defaultdict(list)
    for hold in holds:
        scope = (hold.site, hold.vo)
        piece = Piece(hold.start, hold.end, hold.usage)
        if hold.group is None:
            pieces[scope].append(piece)
        else:
            grouped[(scope, hold.group)].append(piece)
    for (scope, _group), siblings in grouped.items():
        pieces[scope].extend(envelope(siblings))
    return {scope: Calendar(found) for scope, found in pieces.items()}


def shortfall(quota: Quota | None, committed: Usage, need: Usage) -> str | None:
    """None if `need` fits beside what the site uses and execplanner committed; else what is short, in words."""
    if quota is None:
        return None
    for name, (item_name, label) in QUOTA_ITEMS.items():
        amount = getattr(need, name)
        item = getattr(quota, item_name)
        if not amount or item.limit is None:
            continue
        taken = item.in_use + getattr(committed, name)
        if taken + amount > item.limit:
            return f"{label}: {taken} of {item.limit} in use or held"
    return None

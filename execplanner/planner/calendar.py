"""Capacity as a calendar: what execplanner has committed at one site for one VO, instant by instant.

A `Calendar` is a step function built from holds: each hold adds its amounts over [start, end); holds of one
offer set (mutually exclusive siblings) add, at each instant, only their componentwise maximum there. A start
is feasible when, over the whole interval, quota − the site's own usage − the commitment still leaves room.
Pure and in memory: `booking/` loads the holds, the planner asks the calendar.
"""

from __future__ import annotations

import operator
from bisect import bisect_left, bisect_right
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import overload
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
Ceiling = tuple[int | None, ...]  # per amount: the most that may be committed (None: no limit)


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

    def add(self, piece: Piece) -> None:
        """Commit one more piece (an offer set just planned), keeping the step function."""
        if piece.end <= piece.start:
            return
        first, last = self._split(piece.start), self._split(piece.end)
        amounts = piece.usage.amounts()
        self._levels[first:last] = [tuple(map(operator.add, lv, amounts)) for lv in self._levels[first:last]]

    def _split(self, at: datetime) -> int:
        i = bisect_left(self._times, at)
        if i == len(self._times) or self._times[i] != at:
            self._times.insert(i, at)
            self._levels.insert(i, self._levels[i - 1] if i else _ZERO)
        return i

    def feasible(self, starts: list[datetime], length: timedelta, ceiling: Ceiling) -> Iterator[datetime]:
        """Those of `starts` (ascending) at which the commitment stays at or below `ceiling` (per amount; negative:
        never) throughout [start, start + length). A sliding-window maximum: one pass over the calendar."""
        tops = {d: top for d, top in enumerate(ceiling) if top is not None}
        if any(top < 0 for top in tops.values()):
            return
        windows = [_Window(self._levels, d, top) for d, top in tops.items()]
        pushed = 0
        for start in starts:
            first = bisect_right(self._times, start) - 1
            end = start + length
            while pushed < len(self._times) and self._times[pushed] < end:
                for window in windows:
                    window.push(pushed)
                pushed += 1
            if all(window.fits_from(first) for window in windows):
                yield start


class _Window:
    """The maximum of one amount over a sliding range of segments (a monotonic queue of segment indices)."""

    def __init__(self, levels: list[Levels], dim: int, top: int) -> None:
        self._levels, self._dim, self._top = levels, dim, top
        self._queue: deque[int] = deque()

    def push(self, index: int) -> None:
        level = self._levels[index][self._dim]
        while self._queue and self._levels[self._queue[-1]][self._dim] <= level:
            self._queue.pop()
        self._queue.append(index)

    def fits_from(self, first: int) -> bool:
        """True when no segment from `first` on (of those pushed) is above the top."""
        while self._queue and self._queue[0] < first:
            self._queue.popleft()
        return not self._queue or self._levels[self._queue[0]][self._dim] <= self._top


def _pieces(holds: Iterable[Hold]) -> dict[Scope, list[Piece]]:
    """Per (site, VO), what the holds commit: siblings of one offer set as their envelope."""
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
    return pieces


def calendars(holds: Iterable[Hold]) -> dict[Scope, Calendar]:
    """One calendar per (site, VO); siblings of one offer set counted as their envelope."""
    return {scope: Calendar(found) for scope, found in _pieces(holds).items()}


class Commitments(Sequence[Hold]):
    """The live holds and their calendars, built once and extended as a batch of requests is planned (so each
    request sees what those before it were offered without rebuilding anything). Still a sequence of holds, so
    a planner that only wants the list can take it."""

    def __init__(self, holds: Iterable[Hold] = ()) -> None:
        self._holds = list(holds)
        self._calendars = calendars(self._holds)

    def calendar(self, scope: Scope) -> Calendar:
        return self._calendars.get(scope) or Calendar()

    def extend(self, holds: Iterable[Hold]) -> None:
        """Add the holds of newly planned offer sets or sessions (whole offer sets at a time)."""
        added = list(holds)
        self._holds.extend(added)
        for scope, pieces in _pieces(added).items():
            calendar = self._calendars.setdefault(scope, Calendar())
            for piece in pieces:
                calendar.add(piece)

    @overload
    def __getitem__(self, index: int) -> Hold: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Hold]: ...
    def __getitem__(self, index: int | slice) -> Hold | Sequence[Hold]:
        return self._holds[index]

    def __len__(self) -> int:
        return len(self._holds)


def ceiling_for(quota: Quota | None, need: Usage) -> Ceiling:
    """The most that may already be committed, per amount, for `need` still to fit beside the site's own usage
    (None where the need is nothing or the quota has no limit)."""
    if quota is None:
        return tuple(None for _ in _ZERO)
    tops: list[int | None] = []
    for name in Usage.names():
        item = getattr(quota, QUOTA_ITEMS[name][0]) if name in QUOTA_ITEMS else None
        amount = getattr(need, name)
        tops.append(None if not amount or item is None or item.limit is None else item.limit - item.in_use - amount)
    return tuple(tops)


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

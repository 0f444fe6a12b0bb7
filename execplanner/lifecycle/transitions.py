"""The one state machine: a single table of legal phase changes and a single function that applies one.

Nothing else in execplanner assigns a phase. `apply` checks the table, then writes the change and its reason
with a conditional UPDATE, so two replicas (or a client and the scheduler) racing on one session cannot both win.
The session's hold follows in the same transaction: a session that reaches a phase that holds nothing (a final
one) gives its capacity back; an accepted offer's hold becomes the session's own (no longer shared with its
siblings). Whoever drives a session — the client, the scheduler, the launch driver — gets this by calling
`apply`; the hold's interval stays the offered schedule.
"""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

from sqlalchemy import Connection

from execplanner import metrics
from execplanner.errors import IllegalTransition, NotFound
from execplanner.model.phase import Phase
from execplanner.store import records

log = logging.getLogger("execplanner.lifecycle")

P = Phase
_LIVE_EXITS = {P.CANCELLED, P.FAILED}

TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    P.INITIAL: frozenset({P.OFFERED, P.ACCEPTED, P.FAILED}),
    P.OFFERED: frozenset({P.ACCEPTED, P.REJECTED, P.EXPIRED, P.FAILED}),
    P.ACCEPTED: frozenset({P.WAITING, P.PREPARING, *_LIVE_EXITS}),
    P.WAITING: frozenset({P.PREPARING, *_LIVE_EXITS}),
    P.PREPARING: frozenset({P.AVAILABLE, P.RELEASING, *_LIVE_EXITS}),
    P.AVAILABLE: frozenset({P.RUNNING, P.RELEASING, *_LIVE_EXITS}),
    P.RUNNING: frozenset({P.RELEASING, *_LIVE_EXITS}),
    P.RELEASING: frozenset({P.COMPLETED, *_LIVE_EXITS}),
    P.COMPLETED: frozenset(),
    P.FAILED: frozenset(),
    P.CANCELLED: frozenset(),
    P.REJECTED: frozenset(),
    P.EXPIRED: frozenset(),
}

# What a client may ask for, by the phase the session is in: these become the session's `options`.
CLIENT_MOVES: dict[Phase, tuple[Phase, ...]] = {
    P.OFFERED: (P.ACCEPTED, P.REJECTED),
    P.ACCEPTED: (P.CANCELLED,),
    P.WAITING: (P.CANCELLED,),
    P.PREPARING: (P.CANCELLED,),
    P.AVAILABLE: (P.CANCELLED,),
    P.RUNNING: (P.CANCELLED,),
    P.RELEASING: (P.CANCELLED,),
}


def is_legal(from_phase: Phase, to_phase: Phase) -> bool:
    return to_phase in TRANSITIONS[from_phase]


def client_options(phase: Phase) -> tuple[Phase, ...]:
    return CLIENT_MOVES.get(phase, ())


def apply(
    conn: Connection,
    uuid: UUID,
    to_phase: Phase,
    reason: str,
    now: datetime,
    *,
    expect: Phase | None = None,
) -> Phase:
    """Move a session to `to_phase`, recording `reason`; raise IllegalTransition if the table forbids it
    or the session moved under us. Returns the phase it left."""
    session = records.get_session(conn, uuid, for_update=True)
    if session is None:
        raise NotFound(f"no session {uuid}")
    current = session.phase
    if expect is not None and current is not expect:
        raise IllegalTransition(f"session {uuid} is {current.value}, not {expect.value}")
    if not is_legal(current, to_phase):
        raise IllegalTransition(f"session {uuid} cannot go from {current.value} to {to_phase.value}")
    if not records.write_phase(conn, uuid, current, to_phase, reason, now):
        raise IllegalTransition(f"session {uuid} changed phase while being updated; try again")
    _follow_hold(conn, [uuid], to_phase)
    log.info("phase_changed session=%s from=%s to=%s reason=%r", uuid, current.value, to_phase.value, reason)
    _count(current, to_phase)
    return current


def apply_many(
    conn: Connection, uuids: list[UUID], from_phase: Phase, to_phase: Phase, reason: str, now: datetime
) -> list[UUID]:
    """`apply` for a batch of sessions all expected in `from_phase` (e.g. offers the scheduler claimed to expire):
    checks the table once, moves those still in `from_phase`, and returns them."""
    if not is_legal(from_phase, to_phase):
        raise IllegalTransition(f"sessions cannot go from {from_phase.value} to {to_phase.value}")
    moved = records.write_phases(conn, uuids, from_phase, to_phase, reason, now)
    _follow_hold(conn, moved, to_phase)
    for uuid in moved:
        log.info("phase_changed session=%s from=%s to=%s reason=%r", uuid, from_phase.value, to_phase.value, reason)
    _count(from_phase, to_phase, len(moved))
    return moved


def _count(from_phase: Phase, to_phase: Phase, how_many: int = 1) -> None:
    """Feed the phase-change and offer-outcome counters (execplanner/metrics.py)."""
    if how_many:
        metrics.PHASE_CHANGES.labels(to_phase.value).inc(how_many)
        if from_phase is Phase.OFFERED:
            metrics.OFFERS.labels(to_phase.value.lower()).inc(how_many)


def _follow_hold(conn: Connection, uuids: list[UUID], to_phase: Phase) -> None:
    if not to_phase.holds_capacity:
        records.end_holds(conn, uuids)
    elif to_phase is P.ACCEPTED:
        for uuid in uuids:
            records.own_hold(conn, uuid)

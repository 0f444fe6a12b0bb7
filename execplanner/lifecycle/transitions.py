"""The one state machine: a single table of legal phase changes and a single function that applies one.

Nothing else in execplanner assigns a phase. `apply` checks the table, then writes the change and its reason
with a conditional UPDATE, so two replicas (or a client and the scheduler) racing on one session cannot both win.
"""

from __future__ import annotations

import logging
from datetime import datetime
from uuid import UUID

from sqlalchemy import Connection

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
    log.info("phase_changed session=%s from=%s to=%s reason=%r", uuid, current.value, to_phase.value, reason)
    return current

"""Client-driven changes to a session: accept (rejecting siblings), reject, cancel.

Lock order: a change to an offer first locks every session of its offer set, in uuid order, in one statement;
so an accept racing a sibling's accept or reject waits rather than deadlocks, and then sees what the other did.
The scheduler claims with SKIP LOCKED and never waits, so it cannot close a cycle either."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import Connection

from execplanner.errors import IllegalTransition, InvalidRequest, NotFound
from execplanner.lifecycle.transitions import apply, apply_many, client_options
from execplanner.model.documents import Session, UpdateRequest
from execplanner.model.message import Message
from execplanner.model.phase import Phase, parse_phase
from execplanner.store import records


def requested_phase(update: UpdateRequest) -> Phase:
    if update.path != "phase":
        raise InvalidRequest(f"cannot update '{update.path}'; only 'phase' can be updated")
    try:
        return parse_phase(str(update.value))
    except ValueError as exc:
        raise InvalidRequest(f"'{update.value}' is not a session phase") from exc


def update_session(conn: Connection, uuid: UUID, update: UpdateRequest, now: datetime) -> Session:
    """Apply a client's update in one transaction and return the session as it now is."""
    target = requested_phase(update)
    session = _locked(conn, uuid)
    if target not in client_options(session.phase):
        allowed = ", ".join(p.value for p in client_options(session.phase)) or "none"
        raise IllegalTransition(
            f"session {uuid} is {session.phase.value}: it cannot be set to {target.value} (allowed: {allowed})"
        )
    if target is Phase.ACCEPTED:
        _accept(conn, session, now)
    else:
        apply(conn, uuid, target, f"client asked for {target.value}", now, expect=session.phase)
    updated = records.get_session(conn, uuid)
    assert updated is not None
    return updated


def _locked(conn: Connection, uuid: UUID) -> Session:
    """The session, read after locking it (and, for an offer, all its siblings, in the one global order)."""
    offerset = records.offerset_of(conn, uuid)
    if offerset is not None:
        records.lock_offerset(conn, offerset)
    session = records.get_session(conn, uuid, for_update=True)
    if session is None:
        raise NotFound(f"no session {uuid}")
    return session


def _accept(conn: Connection, session: Session, now: datetime) -> None:
    if session.expires is not None and session.expires <= now:
        # only refused: this transaction is rolled back, so the scheduler is the one that records the expiry
        raise IllegalTransition(f"offer {session.uuid} expired at {session.expires.isoformat()}; ask for new offers")
    apply(conn, session.uuid, Phase.ACCEPTED, "accepted by client", now, expect=Phase.OFFERED)
    records.add_message(
        conn,
        session.uuid,
        Message.info("Accepted; launching on FedCloud is handled by the lifecycle service when it is enabled."),
    )
    if session.offerset is None:
        return
    siblings = [s.uuid for s in records.sessions_of(conn, session.offerset) if s.uuid != session.uuid]
    # only those still OFFERED move: one a client rejected (or the scheduler expired) meanwhile is left alone
    apply_many(conn, siblings, Phase.OFFERED, Phase.REJECTED, f"sibling offer {session.uuid} was accepted", now)

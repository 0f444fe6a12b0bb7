"""Launch records: what the lifecycle driver created for a session at a site, who it launched as, and which
replica is working on it. A claim is a conditional UPDATE with an expiry, so exactly one replica drives a
session at a time and a crashed replica's claims lapse for another to take over."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, and_, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from execplanner.model.documents import Executable, LaunchIdentity
from execplanner.model.phase import Phase
from execplanner.store import tables

L = tables.launches
S = tables.sessions

#: Phases in which the driver has something to do for a session.
DRIVEN = (Phase.ACCEPTED, Phase.WAITING, Phase.PREPARING, Phase.AVAILABLE, Phase.RUNNING, Phase.RELEASING)
FINAL = (Phase.COMPLETED, Phase.FAILED, Phase.CANCELLED, Phase.REJECTED, Phase.EXPIRED)
CLEANED = "cleaned"


@dataclass
class LaunchRecord:
    session: UUID
    site: str
    vo: str
    state: str = "new"
    attempts: int = 0
    next_attempt: datetime | None = None
    server_id: str | None = None
    address: str | None = None
    objects: dict[str, Any] = field(default_factory=dict)
    identity: str | None = None
    credential_id: str | None = None
    credential_sealed: str | None = None  # the credential's sealed secret; with no credential_id yet, the caller's
    # sealed token while the accept makes the credential (so a crash there still lets the cleanup delete it)
    credential_expires: datetime | None = None
    token: str | None = None


def _record(row: Any) -> LaunchRecord:
    return LaunchRecord(
        session=UUID(row.session_uuid),
        site=row.site,
        vo=row.vo,
        state=row.state,
        attempts=row.attempts,
        next_attempt=row.next_attempt,
        server_id=row.server_id,
        address=row.address,
        objects=dict(row.objects or {}),
        identity=row.identity,
        credential_id=row.credential_id,
        credential_sealed=row.credential_sealed,
        credential_expires=row.credential_expires,
        token=row.token,
    )


def get(conn: Connection, session: UUID) -> LaunchRecord | None:
    row = conn.execute(select(L).where(L.c.session_uuid == str(session))).first()
    return _record(row) if row else None


def ensure(conn: Connection, session: UUID, site: str, vo: str, now: datetime) -> LaunchRecord:
    """The session's record, created (state `new`) if it has none yet."""
    found = get(conn, session)
    if found is not None:
        return found
    # Two replicas' drivers may both find none: the second insert must not fail the pass (it waits for the first
    # and then does nothing).
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    values = {"session_uuid": str(session), "site": site, "vo": vo, "state": "new", "attempts": 0, "objects": {}}
    conn.execute(
        dialect.insert(L).values(**values, updated=now).on_conflict_do_nothing(index_elements=[L.c.session_uuid])
    )
    found = get(conn, session)
    assert found is not None
    return found


def claim_all(conn: Connection, sessions: list[UUID], replica: str, until: datetime, now: datetime) -> list[UUID]:
    """Take these sessions for `replica` until `until`, except those another replica holds an unexpired claim
    on: one statement for them all (and one insert of the records they lack, state `new`). Returns the ones this
    replica now holds, in the order given; a session with no placement has nothing to launch and is not taken."""
    if not sessions:
        return []
    wanted = [str(s) for s in sessions]
    placed = select(S.c.uuid, S.c.site, S.c.vo, L.c.session_uuid).outerjoin(L, L.c.session_uuid == S.c.uuid)
    rows = conn.execute(placed.where(S.c.uuid.in_(wanted), S.c.site.is_not(None), S.c.vo.is_not(None))).all()
    new = {"state": "new", "attempts": 0, "objects": {}, "updated": now}
    missing = [{"session_uuid": r.uuid, "site": r.site, "vo": r.vo, **new} for r in rows if r.session_uuid is None]
    if missing:  # another replica may insert the same records meanwhile: theirs stand, and the claim decides
        dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
        conn.execute(dialect.insert(L).values(missing).on_conflict_do_nothing(index_elements=[L.c.session_uuid]))
    claimable = [r.uuid for r in rows]
    if not claimable:
        return []
    claimed = conn.execute(
        update(L)
        .where(
            L.c.session_uuid.in_(claimable),
            or_(L.c.claimed_until.is_(None), L.c.claimed_until <= now, L.c.claimed_by == replica),
        )
        .values(claimed_by=replica, claimed_until=until, updated=now)
        .returning(L.c.session_uuid)
    )
    held = {row[0] for row in claimed}
    return [s for s, text in zip(sessions, wanted, strict=True) if text in held]


def renew(conn: Connection, sessions: set[UUID], replica: str, until: datetime) -> None:
    conn.execute(
        update(L)
        .where(L.c.session_uuid.in_([str(s) for s in sessions]), L.c.claimed_by == replica)
        .values(claimed_until=until)
    )


def unclaim(conn: Connection, session: UUID, replica: str) -> None:
    conn.execute(
        update(L)
        .where(L.c.session_uuid == str(session), L.c.claimed_by == replica)
        .values(claimed_by=None, claimed_until=None)
    )


def save(conn: Connection, record: LaunchRecord, now: datetime) -> None:
    """Write back what the driver learnt (objects, address, attempts, state, identity) — not the credential: a
    driver pass that read the record before the accept saved the caller's credential would wipe it (and the
    credential would outlive the session at the site). `save_credential` writes that."""
    conn.execute(
        update(L)
        .where(L.c.session_uuid == str(record.session))
        .values(
            state=record.state,
            attempts=record.attempts,
            next_attempt=record.next_attempt,
            server_id=record.server_id,
            address=record.address,
            objects=record.objects,
            identity=record.identity,
            token=record.token,
            updated=now,
        )
    )


def save_credential(conn: Connection, record: LaunchRecord, now: datetime) -> None:
    """Write the session's own credential (made at accept time, forgotten once deleted) and who it launches as."""
    conn.execute(
        update(L)
        .where(L.c.session_uuid == str(record.session))
        .values(
            identity=record.identity,
            credential_id=record.credential_id,
            credential_sealed=record.credential_sealed,
            credential_expires=record.credential_expires,
            updated=now,
        )
    )


def work(conn: Connection, now: datetime, limit: int = 200) -> list[UUID]:
    """Sessions the driver should look at now: live ones, and finished ones whose objects are not yet deleted;
    those another replica holds and those waiting for a retry are left out."""
    free = or_(L.c.claimed_until.is_(None), L.c.claimed_until <= now)
    ready = or_(L.c.next_attempt.is_(None), L.c.next_attempt <= now)
    live = select(S.c.uuid).outerjoin(L, L.c.session_uuid == S.c.uuid)
    live = live.where(S.c.phase.in_([p.value for p in DRIVEN]), or_(L.c.session_uuid.is_(None), and_(free, ready)))
    dead = select(L.c.session_uuid).join(S, L.c.session_uuid == S.c.uuid)
    dead = dead.where(S.c.phase.in_([p.value for p in FINAL]), L.c.state != CLEANED, free, ready)
    uuids = [row[0] for row in conn.execute(live.limit(limit))]
    uuids += [row[0] for row in conn.execute(dead.limit(limit))]
    return [UUID(u) for u in dict.fromkeys(uuids)]


def places(conn: Connection) -> set[tuple[str, str]]:
    """Every (site, VO) the driver has launched at: where reconciliation looks for leftovers."""
    return {(row.site, row.vo) for row in conn.execute(select(L.c.site, L.c.vo).distinct())}


def phases_of(conn: Connection, sessions: set[UUID]) -> dict[UUID, Phase]:
    """The phase of each of these sessions that exists (unknown ones are absent)."""
    if not sessions:
        return {}
    rows = conn.execute(select(S.c.uuid, S.c.phase).where(S.c.uuid.in_([str(s) for s in sessions])))
    return {UUID(row.uuid): Phase(row.phase) for row in rows}


def set_executable(conn: Connection, session: UUID, executable: Executable) -> None:
    """Replace the session's executable in its document (access details once the VM has an address)."""
    _set_in_document(conn, session, "executable", executable.model_dump(mode="json"))


def set_launch(conn: Connection, session: UUID, launch: LaunchIdentity) -> None:
    """Record in the session's document which identity launches it (never a secret)."""
    _set_in_document(conn, session, "launch", launch.model_dump(mode="json"))


def _set_in_document(conn: Connection, session: UUID, key: str, value: object) -> None:
    """Set one top-level part of the session's stored document; a session that does not exist is left alone."""
    row = conn.execute(select(S.c.document).where(S.c.uuid == str(session))).first()
    if row is None:
        return
    document = dict(row.document)
    document[key] = value
    conn.execute(update(S).where(S.c.uuid == str(session)).values(document=document))

"""Reading and writing offer sets, sessions and their history. Phase columns are written only through
`write_phase`, which `lifecycle.transitions` alone calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, func, insert, select, update

from execplanner.model.documents import OfferSet, Result, Session, Transition
from execplanner.model.message import Message
from execplanner.model.phase import HOLDING_PHASES, Phase
from execplanner.store import tables


@dataclass(frozen=True)
class Usage:
    """Capacity held on one site and VO by offers and live sessions."""

    instances: int = 0
    cores: int = 0
    memory_mib: int = 0
    floating_ips: int = 0


def insert_offerset(conn: Connection, offerset: OfferSet, request: dict[str, Any], owner: str | None) -> None:
    """`request` is what the client asked, as read (or as sent, when it could not be read)."""
    conn.execute(
        insert(tables.offersets).values(
            uuid=str(offerset.uuid),
            created=offerset.created,
            dialect=offerset.dialect.value,
            name=offerset.name,
            result=offerset.result.value,
            expires=offerset.expires,
            owner=owner,
            messages=[m.model_dump(mode="json") for m in offerset.messages],
            request=request,
        )
    )
    for session in offerset.offers:
        insert_session(conn, session)


def insert_session(conn: Connection, session: Session) -> None:
    placement = session.placement
    holds = placement is not None
    conn.execute(
        insert(tables.sessions).values(
            uuid=str(session.uuid),
            offerset_uuid=str(session.offerset) if session.offerset else None,
            created=session.created,
            updated=session.created,
            phase=session.phase.value,
            expires=session.expires,
            dialect=session.dialect.value,
            site=placement.site if placement else None,
            vo=placement.vo if placement else None,
            cores=placement.cores if holds else 0,
            memory_mib=placement.memory_mib if holds else 0,
            instances=1 if holds else 0,
            floating_ips=placement.floating_ips if holds else 0,
            document=session.model_dump(mode="json"),
        )
    )
    conn.execute(
        insert(tables.transitions).values(
            session_uuid=str(session.uuid),
            at=session.created,
            from_phase=None,
            to_phase=session.phase.value,
            reason="offered" if session.phase is Phase.OFFERED else "created",
        )
    )


def _session_from_row(row: object) -> Session:
    session = Session.model_validate(row.document)  # type: ignore[attr-defined]
    return session.model_copy(update={"phase": Phase(row.phase), "expires": row.expires})  # type: ignore[attr-defined]


def get_session(conn: Connection, uuid: UUID, *, for_update: bool = False) -> Session | None:
    query = select(tables.sessions).where(tables.sessions.c.uuid == str(uuid))
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).first()
    return _session_from_row(row) if row else None


def sessions_of(conn: Connection, offerset_uuid: UUID) -> list[Session]:
    rows = conn.execute(
        select(tables.sessions)
        .where(tables.sessions.c.offerset_uuid == str(offerset_uuid))
        .order_by(tables.sessions.c.created, tables.sessions.c.uuid)
    )
    sessions = [_session_from_row(row) for row in rows]
    return sorted(sessions, key=lambda s: s.name or "")


def get_offerset(conn: Connection, uuid: UUID) -> OfferSet | None:
    row = conn.execute(select(tables.offersets).where(tables.offersets.c.uuid == str(uuid))).first()
    if row is None:
        return None
    return OfferSet(
        uuid=UUID(row.uuid),
        name=row.name,
        created=row.created,
        dialect=row.dialect,
        result=Result(row.result),
        expires=row.expires,
        offers=sessions_of(conn, uuid),
        messages=[Message.model_validate(m) for m in row.messages],
    )


def write_phase(conn: Connection, uuid: UUID, from_phase: Phase, to_phase: Phase, reason: str, at: datetime) -> bool:
    """Move one session if, and only if, it is still in `from_phase`; record why. False if it was not."""
    result = conn.execute(
        update(tables.sessions)
        .where(tables.sessions.c.uuid == str(uuid), tables.sessions.c.phase == from_phase.value)
        .values(phase=to_phase.value, updated=at)
    )
    if result.rowcount != 1:
        return False
    conn.execute(
        insert(tables.transitions).values(
            session_uuid=str(uuid), at=at, from_phase=from_phase.value, to_phase=to_phase.value, reason=reason[:2000]
        )
    )
    return True


def add_message(conn: Connection, uuid: UUID, message: Message) -> None:
    """Append a message to a session's document (e.g. why it failed)."""
    row = conn.execute(select(tables.sessions.c.document).where(tables.sessions.c.uuid == str(uuid))).first()
    if row is None:
        return
    document = dict(row.document)
    document["messages"] = [*document.get("messages", []), message.model_dump(mode="json")]
    conn.execute(update(tables.sessions).where(tables.sessions.c.uuid == str(uuid)).values(document=document))


def history(conn: Connection, uuid: UUID) -> list[Transition]:
    rows = conn.execute(
        select(tables.transitions)
        .where(tables.transitions.c.session_uuid == str(uuid))
        .order_by(tables.transitions.c.id)
    )
    return [
        Transition(
            at=row.at,
            from_phase=Phase(row.from_phase) if row.from_phase else None,
            to_phase=Phase(row.to_phase),
            reason=row.reason,
        )
        for row in rows
    ]


def due_offers(conn: Connection, now: datetime, limit: int = 500) -> list[tuple[UUID, Phase]]:
    rows = conn.execute(
        select(tables.sessions.c.uuid)
        .where(tables.sessions.c.phase == Phase.OFFERED.value, tables.sessions.c.expires <= now)
        .limit(limit)
    )
    return [(UUID(row.uuid), Phase.OFFERED) for row in rows]


CAPACITY_LOCK = 727373


def lock_capacity(conn: Connection) -> None:
    """Serialise capacity decisions for the rest of this transaction, across every replica.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: the BEGIN IMMEDIATE write lock already does it.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({CAPACITY_LOCK})")


def usage_by_site(conn: Connection) -> dict[tuple[str, str], Usage]:
    """What offers and live sessions hold, per (site, VO)."""
    s = tables.sessions.c
    rows = conn.execute(
        select(
            s.site,
            s.vo,
            func.coalesce(func.sum(s.instances), 0),
            func.coalesce(func.sum(s.cores), 0),
            func.coalesce(func.sum(s.memory_mib), 0),
            func.coalesce(func.sum(s.floating_ips), 0),
        )
        .where(s.phase.in_([p.value for p in HOLDING_PHASES]), s.site.is_not(None))
        .group_by(s.site, s.vo)
    )
    return {(row[0], row[1]): Usage(int(row[2]), int(row[3]), int(row[4]), int(row[5])) for row in rows}


def count_sessions(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(tables.sessions)).scalar_one())

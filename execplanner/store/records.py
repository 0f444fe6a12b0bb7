"""Reading and writing offer sets, sessions and their history. Phase columns are written only through
`write_phase`, which `lifecycle.transitions` alone calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from execplanner.model.capacity import Usage
from execplanner.model.documents import OfferSet, Result, Session, Transition
from execplanner.model.message import Message
from execplanner.model.phase import Phase
from execplanner.store import tables


def insert_offersets(conn: Connection, items: list[tuple[OfferSet, dict[str, Any], str | None]]) -> None:
    """Store offer sets with their sessions. Each item's dict is what the client asked, as read (or as sent,
    when it could not be read); the string is its owner."""
    if not items:
        return
    conn.execute(
        _INSERT_OFFERSET,
        [
            {
                "uuid": str(offerset.uuid),
                "created": offerset.created,
                "dialect": offerset.dialect.value,
                "name": offerset.name,
                "result": offerset.result.value,
                "expires": offerset.expires,
                "owner": owner,
                "messages": [m.model_dump(mode="json") for m in offerset.messages],
                "request": request,
            }
            for offerset, request, owner in items
        ],
    )
    offers = [(session, rank, owner) for offerset, _, owner in items for rank, session in enumerate(offerset.offers)]
    insert_sessions(conn, [s for s, _, _ in offers], [rank for _, rank, _ in offers], [owner for *_, owner in offers])


def _session_row(session: Session, position: int | None, owner: str | None) -> dict[str, Any]:
    placement = session.placement
    return {
        "uuid": str(session.uuid),
        "offerset_uuid": str(session.offerset) if session.offerset else None,
        "created": session.created,
        "updated": session.created,
        "phase": session.phase.value,
        "expires": session.expires,
        "dialect": session.dialect.value,
        "site": placement.site if placement else None,
        "vo": placement.vo if placement else None,
        "cores": placement.cores if placement else 0,
        "memory_mib": placement.memory_mib if placement else 0,
        "instances": 1 if placement else 0,
        "floating_ips": placement.floating_ips if placement else 0,
        "document": session.model_dump(mode="json"),
        "position": position,
        "owner": owner,
    }


def insert_sessions(
    conn: Connection,
    sessions: list[Session],
    positions: list[int] | None = None,
    owners: list[str | None] | None = None,
) -> None:
    """Store new sessions (with their rank in their offer set, if they are offers, and their owner), their
    first history rows, and the capacity they hold — one statement each."""
    if not sessions:
        return
    ranks: list[int | None] = list(positions) if positions is not None else [None] * len(sessions)
    whose: list[str | None] = list(owners) if owners is not None else [None] * len(sessions)
    rows = [_session_row(s, rank, owner) for s, rank, owner in zip(sessions, ranks, whose, strict=True)]
    conn.execute(_INSERT_SESSIONS, rows)
    conn.execute(
        _INSERT_TRANSITIONS,
        [
            {
                "session_uuid": str(s.uuid),
                "at": s.created,
                "from_phase": None,
                "to_phase": s.phase.value,
                "reason": "offered" if s.phase is Phase.OFFERED else "created",
            }
            for s in sessions
        ],
    )
    _add_holdings(conn, holdings_of(sessions))


def holdings_of(sessions: list[Session]) -> dict[tuple[str, str], Usage]:
    """What these sessions hold, per (site, VO)."""
    held: dict[tuple[str, str], Usage] = {}
    for session in sessions:
        placement = session.placement
        if placement is not None and session.phase.holds_capacity:
            key = (placement.site, placement.vo)
            amount = Usage(1, placement.cores, placement.memory_mib, placement.floating_ips)
            held[key] = held.get(key, Usage()) + amount
    return held


def merge_usage(
    first: dict[tuple[str, str], Usage], second: dict[tuple[str, str], Usage]
) -> dict[tuple[str, str], Usage]:
    merged = dict(first)
    for key, usage in second.items():
        merged[key] = merged.get(key, Usage()) + usage
    return merged


def _usage_of(row: Any) -> Usage:
    get = row.get if isinstance(row, dict) else row._mapping.get
    return Usage(get("instances"), get("cores"), get("memory_mib"), get("floating_ips"))


_INSERT_OFFERSET = insert(tables.offersets)
_INSERT_SESSIONS = insert(tables.sessions)
_INSERT_TRANSITIONS = insert(tables.transitions)
_AMOUNTS = ("instances", "cores", "memory_mib", "floating_ips")


def _upsert_holding(dialect: str) -> Any:
    """`holdings += delta` for one (site, VO), creating the row on first use; built once per dialect."""
    h = tables.holdings
    make = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = make(h).values({name: bindparam(name) for name in ("site", "vo", *_AMOUNTS)})
    return statement.on_conflict_do_update(
        index_elements=[h.c.site, h.c.vo],
        set_={name: h.c[name] + statement.excluded[name] for name in _AMOUNTS},
    )


_UPSERT_HOLDING = {"postgresql": _upsert_holding("postgresql"), "sqlite": _upsert_holding("sqlite")}


def _add_holdings(conn: Connection, deltas: dict[tuple[str, str], Usage]) -> None:
    """Add each delta to its (site, VO) row of the ledger, in one statement."""
    if deltas:
        conn.execute(
            _UPSERT_HOLDING[conn.dialect.name],
            [
                {
                    "site": site,
                    "vo": vo,
                    "instances": d.instances,
                    "cores": d.cores,
                    "memory_mib": d.memory_mib,
                    "floating_ips": d.floating_ips,
                }
                for (site, vo), d in deltas.items()
            ],
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
        .order_by(tables.sessions.c.position, tables.sessions.c.created, tables.sessions.c.uuid)
    )
    return [_session_from_row(row) for row in rows]


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


def owner_of_session(conn: Connection, uuid: UUID) -> str | None:
    """Who asked for the session (`subject@issuer`), or None when nobody authenticated (or no such session)."""
    return conn.execute(select(tables.sessions.c.owner).where(tables.sessions.c.uuid == str(uuid))).scalar()


def owner_of_offerset(conn: Connection, uuid: UUID) -> str | None:
    return conn.execute(select(tables.offersets.c.owner).where(tables.offersets.c.uuid == str(uuid))).scalar()


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
    if from_phase.holds_capacity and not to_phase.holds_capacity:
        c = tables.sessions.c
        row = conn.execute(
            select(c.site, c.vo, c.instances, c.cores, c.memory_mib, c.floating_ips).where(c.uuid == str(uuid))
        ).first()
        if row is not None and row.site and row.vo:
            _add_holdings(conn, {(row.site, row.vo): -_usage_of(row)})
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
    rows = conn.execute(select(tables.holdings))
    return {(row.site, row.vo): _usage_of(row) for row in rows}

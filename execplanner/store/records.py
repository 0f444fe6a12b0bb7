"""Reading and writing offer sets, sessions and their history. Phase columns are written only through
`write_phase`, which `lifecycle.transitions` alone calls."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from pydantic import BaseModel
from sqlalchemy import Connection, Table, delete, insert, select, update

from execplanner.model.capacity import Hold, Usage
from execplanner.model.documents import OfferSet, Result, Session, Transition
from execplanner.model.idempotency import IdempotencyKey
from execplanner.model.message import Message
from execplanner.model.phase import Phase
from execplanner.store import tables


def document(model: BaseModel) -> orjson.Fragment:
    """A model as the JSON a JSON column stores, serialised once by pydantic (the column's orjson serialiser
    passes a fragment through): the same JSON as `model_dump(mode="json")` without building the dict first."""
    return orjson.Fragment(model.model_dump_json())


_PROCESSORS: dict[tuple[str, tuple[str, ...]], list[Any]] = {}
_SQL: dict[tuple[str, tuple[str, ...], int], str] = {}
# Rows per INSERT on SQLite: within its 32,766 bound parameters for the widest table (16 columns).
_ROWS_PER_INSERT = 256


def _sqlite_processors(table: Table, columns: tuple[str, ...], conn: Connection) -> list[Any]:
    """Each column's bind processor, as SQLAlchemy would apply it (None: the value goes as it is)."""
    key = (table.name, columns)
    found = _PROCESSORS.get(key)
    if found is None:
        found = _PROCESSORS[key] = [table.c[name].type._cached_bind_processor(conn.dialect) for name in columns]
    return found


def _sqlite_sql(table: Table, columns: tuple[str, ...], count: int) -> str:
    """INSERT of `count` rows in one statement (one step of SQLite's, where executemany takes one per row)."""
    key = (table.name, columns, count)
    found = _SQL.get(key)
    if found is None:
        row = f"({', '.join('?' * len(columns))})"
        found = _SQL[key] = f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES {', '.join([row] * count)}"
    return found


def _insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows (dicts with the same keys). On SQLite the values are bound here, with the column types' own bind
    processors (the same text SQLAlchemy would store), a repeated value (an offer set's few instants) processed
    once, and up to 256 rows go in one multi-row INSERT: SQLAlchemy's per-row parameter handling was a third of
    the cost of writing an offer set, and the driver lets go of the GIL for every statement step it takes."""
    if conn.dialect.name != "sqlite":
        conn.execute(insert(table), rows)
        return
    columns = tuple(rows[0])
    processors = _sqlite_processors(table, columns, conn)
    seen: dict[tuple[int, Any], Any] = {}

    def bound(index: int, value: Any) -> Any:
        process = processors[index]
        if process is None:
            return value
        if isinstance(value, datetime):
            key = (index, value)
            if key not in seen:
                seen[key] = process(value)
            return seen[key]
        return process(value)

    values = [bound(i, row[name]) for row in rows for i, name in enumerate(columns)]
    width = len(columns)
    for first in range(0, len(rows), _ROWS_PER_INSERT):
        count = min(_ROWS_PER_INSERT, len(rows) - first)
        part = tuple(values[first * width : (first + count) * width])
        conn.exec_driver_sql(_sqlite_sql(table, columns, count), part)


def insert_offersets(conn: Connection, items: list[tuple[OfferSet, Any, str | None]]) -> None:
    """Store offer sets with their sessions. Each item's second part is what the client asked, as read (or as
    sent, when it could not be read): a JSON-able tree, or its `document`; the string is its owner."""
    if not items:
        return
    _insert(
        conn,
        tables.offersets,
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
        "document": document(session),
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
    and first history rows — one statement each. (What they hold is booking's to write: `insert_holds`.)"""
    if not sessions:
        return
    ranks: list[int | None] = list(positions) if positions is not None else [None] * len(sessions)
    whose: list[str | None] = list(owners) if owners is not None else [None] * len(sessions)
    rows = [_session_row(s, rank, owner) for s, rank, owner in zip(sessions, ranks, whose, strict=True)]
    _insert(conn, tables.sessions, rows)
    _insert(
        conn,
        tables.transitions,
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


_INSERT_TRANSITIONS = insert(tables.transitions)
_AMOUNTS = Usage.names()


def _session_from_row(row: object) -> Session:
    session = Session.model_validate(row.document)  # type: ignore[attr-defined]
    return session.model_copy(update={"phase": Phase(row.phase), "expires": row.expires})  # type: ignore[attr-defined]


session_from_row = _session_from_row  # for `listing`, which reads many sessions at once


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


def offerset_of(conn: Connection, uuid: UUID) -> UUID | None:
    value = conn.execute(select(tables.sessions.c.offerset_uuid).where(tables.sessions.c.uuid == str(uuid))).scalar()
    return UUID(value) if value else None


def lock_offerset(conn: Connection, offerset: UUID) -> None:
    """Lock every session of an offer set, in uuid order (the one global order for sibling rows)."""
    c = tables.sessions.c
    conn.execute(select(c.uuid).where(c.offerset_uuid == str(offerset)).order_by(c.uuid).with_for_update())


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


def claim_due_offers(conn: Connection, now: datetime, limit: int) -> list[tuple[UUID, datetime]]:
    """Offers whose `expires` has passed, oldest first, locked for this transaction. On PostgreSQL rows another
    replica has already claimed are skipped (`FOR UPDATE SKIP LOCKED`), so replicas share the work."""
    c = tables.sessions.c
    query = (
        select(c.uuid, c.expires)
        .where(c.phase == Phase.OFFERED.value, c.expires <= now)
        .order_by(c.expires)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [(UUID(row.uuid), row.expires) for row in conn.execute(query)]


def write_phases(
    conn: Connection, uuids: list[UUID], from_phase: Phase, to_phase: Phase, reason: str, at: datetime
) -> list[UUID]:
    """`write_phase` for many sessions in a few statements; returns those that were still in `from_phase`."""
    if not uuids:
        return []
    c = tables.sessions.c
    moved = [
        UUID(row.uuid)
        for row in conn.execute(
            update(tables.sessions)
            .where(c.uuid.in_([str(u) for u in uuids]), c.phase == from_phase.value)
            .values(phase=to_phase.value, updated=at)
            .returning(c.uuid)
        )
    ]
    if moved:
        conn.execute(
            _INSERT_TRANSITIONS,
            [
                {
                    "session_uuid": str(u),
                    "at": at,
                    "from_phase": from_phase.value,
                    "to_phase": to_phase.value,
                    "reason": reason[:2000],
                }
                for u in moved
            ],
        )
    return moved


CAPACITY_LOCK = 727373


def lock_capacity(conn: Connection) -> None:
    """Serialise decisions that take capacity for the rest of this transaction, across every replica.

    PostgreSQL: one transaction-scoped advisory lock for the federation's capacity. SQLite: the BEGIN IMMEDIATE
    write lock already does it. Giving capacity back (ending holds) needs no lock: it can only make room.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({CAPACITY_LOCK})")


# --- holds: capacity as a calendar -----------------------------------------------------------------------------

_VERSION = tables.capacity_version.c.version
_READ_VERSION = select(_VERSION).where(tables.capacity_version.c.id == 1)
_BUMP_VERSION = (
    update(tables.capacity_version).where(tables.capacity_version.c.id == 1).values(version=_VERSION + 1)
).returning(_VERSION)


def capacity_version(conn: Connection) -> int:
    """The holds' change counter (see `tables.capacity_version`): equal readings, equal holds."""
    return int(conn.execute(_READ_VERSION).scalar_one())


def _holds_changed(conn: Connection) -> int:
    """Every function here that changes `holds` calls this in the same transaction; the counter it moved to."""
    return int(conn.execute(_BUMP_VERSION).scalar_one())


def insert_holds(conn: Connection, holds: list[Hold]) -> int | None:
    """Store the holds; the capacity counter this moved to (None when there was nothing to hold). The counter is
    read as it is moved, so another transaction's change since this one last read it shows as a larger step."""
    if not holds:
        return None
    version = _holds_changed(conn)
    _insert(
        conn,
        tables.holds,
        [
            {
                "session_uuid": str(h.session),
                "offerset_uuid": str(h.group) if h.group else None,
                "site": h.site,
                "vo": h.vo,
                "starts": h.start,
                "ends": h.end,
                **dict(zip(_AMOUNTS, h.usage.amounts(), strict=True)),
            }
            for h in holds
        ],
    )
    return version


def _hold_from_row(row: Any) -> Hold:
    return Hold(
        site=row.site,
        vo=row.vo,
        start=row.starts,
        end=row.ends,
        usage=Usage(*(getattr(row, name) for name in _AMOUNTS)),
        session=UUID(row.session_uuid),
        group=UUID(row.offerset_uuid) if row.offerset_uuid else None,
    )


def live_holds(conn: Connection, now: datetime) -> list[Hold]:
    """Every hold that has not ended by `now`."""
    rows = conn.execute(select(tables.holds).where(tables.holds.c.ends > now))
    return [_hold_from_row(row) for row in rows]


def all_holds(conn: Connection) -> list[Hold]:
    return [_hold_from_row(row) for row in conn.execute(select(tables.holds))]


def end_holds(conn: Connection, uuids: list[UUID]) -> None:
    """The sessions give their capacity back (they ended, or were rejected or expired)."""
    if uuids:
        _holds_changed(conn)
        conn.execute(delete(tables.holds).where(tables.holds.c.session_uuid.in_([str(u) for u in uuids])))


def own_hold(conn: Connection, uuid: UUID) -> None:
    """An accepted offer's hold stops being one of its set's shared offers: it is the session's own."""
    _holds_changed(conn)
    conn.execute(update(tables.holds).where(tables.holds.c.session_uuid == str(uuid)).values(offerset_uuid=None))


def end_overdue_holds(conn: Connection, now: datetime, limit: int) -> int:
    """Delete up to `limit` holds whose interval is over (oldest first; rows another replica is deleting are
    skipped); returns how many."""
    h = tables.holds.c
    claimed = (
        select(h.session_uuid).where(h.ends <= now).order_by(h.ends).limit(limit).with_for_update(skip_locked=True)
    )
    uuids = [row.session_uuid for row in conn.execute(claimed)]
    if uuids:
        _holds_changed(conn)
        conn.execute(delete(tables.holds).where(h.session_uuid.in_(uuids)))
    return len(uuids)


def next_expiry(conn: Connection) -> datetime | None:
    """The earliest `expires` of an offer still OFFERED, due or not (index ix_sessions_phase_expires)."""
    c = tables.sessions.c
    return conn.execute(select(c.expires).where(c.phase == Phase.OFFERED.value).order_by(c.expires).limit(1)).scalar()


def next_hold_end(conn: Connection) -> datetime | None:
    """The earliest end of a hold still in the calendar, over or not (index ix_holds_ends)."""
    h = tables.holds.c
    return conn.execute(select(h.ends).order_by(h.ends).limit(1)).scalar()


def made_for_key(conn: Connection, key: IdempotencyKey) -> tuple[str, UUID] | None:
    """The body digest and the uuid of what a request with this key made, if one did."""
    k = tables.idempotency_keys.c
    found = select(k.digest, k.made_uuid).where(k.owner == key.owner, k.route == key.route, k.key == key.key)
    row = conn.execute(found).first()
    return (row.digest, UUID(row.made_uuid)) if row else None


def remember_keys(conn: Connection, made: list[tuple[IdempotencyKey, UUID]], at: datetime) -> None:
    """Store what each keyed request made, in the transaction that made it."""
    if made:
        rows = [
            {"owner": k.owner, "route": k.route, "key": k.key, "digest": k.digest, "made_uuid": str(u), "created": at}
            for k, u in made
        ]
        conn.execute(insert(tables.idempotency_keys), rows)

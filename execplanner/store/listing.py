"""Finding stored sessions and offer sets by who owns them, phase, site, VO and creation time — newest first,
one page at a time.

Pages are keyset pages: a page ends at a (created, uuid) position and the next one starts strictly after it, so
rows written meanwhile neither shift nor repeat what a client already saw. What the position looks like on the
wire (the opaque cursor) is the caller's business; here it is a typed `Position`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, and_, exists, or_, select

from execplanner.model.documents import OfferSet
from execplanner.model.phase import Phase
from execplanner.store import records, tables

EVERYONE = object()
"""`Listing.owner` for an operator: no owner filter at all."""


@dataclass(frozen=True)
class Position:
    """Where a page ended: the last row's creation time and uuid."""

    created: datetime
    uuid: str


@dataclass(frozen=True)
class Listing:
    """What to list. `owner` is a `subject@issuer`, None for anonymous callers' rows, or `EVERYONE`."""

    owner: Any = None
    phases: Sequence[Phase] = ()
    site: str | None = None
    vo: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    after: Position | None = None
    limit: int = 50


@dataclass(frozen=True)
class Page:
    """One page of rows and, when more follow, where the next page starts."""

    items: list[Any] = field(default_factory=list)
    next: Position | None = None


def _common(table: Any, listing: Listing) -> list[Any]:
    """Conditions shared by both lists: owner, creation window and the page's start."""
    c = table.c
    where: list[Any] = []
    if listing.owner is not EVERYONE:
        where.append(c.owner.is_(None) if listing.owner is None else c.owner == listing.owner)
    if listing.since is not None:
        where.append(c.created >= listing.since)
    if listing.until is not None:
        where.append(c.created < listing.until)
    if listing.after is not None:
        after = listing.after
        where.append(or_(c.created < after.created, and_(c.created == after.created, c.uuid < after.uuid)))
    return where


def _session_filters(listing: Listing) -> list[Any]:
    c = tables.sessions.c
    where: list[Any] = []
    if listing.phases:
        where.append(c.phase.in_([p.value for p in listing.phases]))
    if listing.site is not None:
        where.append(c.site == listing.site)
    if listing.vo is not None:
        where.append(c.vo == listing.vo)
    return where


def _page(rows: list[Any], limit: int) -> tuple[list[Any], Position | None]:
    """Rows were read one past the limit: that extra row only says whether another page follows."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, Position(rows[-1].created, rows[-1].uuid)


def list_sessions(conn: Connection, listing: Listing) -> Page:
    """Sessions (offers included), newest first."""
    c = tables.sessions.c
    query = (
        select(tables.sessions)
        .where(*_common(tables.sessions, listing), *_session_filters(listing))
        .order_by(c.created.desc(), c.uuid.desc())
        .limit(listing.limit + 1)
    )
    rows, following = _page(list(conn.execute(query)), listing.limit)
    return Page([records.session_from_row(row) for row in rows], following)


def list_offersets(conn: Connection, listing: Listing) -> Page:
    """Offer sets, newest first. Phase, site and VO select the offer sets with at least one such offer."""
    o = tables.offersets.c
    where = _common(tables.offersets, listing)
    offer_filters = _session_filters(listing)
    if offer_filters:
        where.append(exists().where(tables.sessions.c.offerset_uuid == o.uuid, *offer_filters))
    query = select(o.uuid, o.created).where(*where).order_by(o.created.desc(), o.uuid.desc()).limit(listing.limit + 1)
    rows, following = _page(list(conn.execute(query)), listing.limit)
    found: list[OfferSet] = []
    for row in rows:
        offerset = records.get_offerset(conn, UUID(row.uuid))
        if offerset is not None:
            found.append(offerset)
    return Page(found, following)

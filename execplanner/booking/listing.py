"""Finding what was asked and given: pages of sessions and offer sets, one session's history, the holds per site.

The API and the dashboard read through these functions, never through SQL: each opens one read-only
transaction, so a page is one consistent snapshot.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from execplanner.model.capacity import Usage
from execplanner.model.documents import Session, Transition
from execplanner.planner.calendar import calendars
from execplanner.store import listing, records
from execplanner.store.database import Store
from execplanner.store.listing import EVERYONE, Listing, Page, Position

_INSTANT = timedelta(microseconds=1)
__all__ = ["EVERYONE", "Listing", "Page", "Position", "Usage", "find_offersets", "find_sessions", "holds", "story"]


def find_sessions(store: Store, query: Listing) -> Page:
    """A page of sessions (offers included), newest first."""
    with store.reading() as conn:
        return listing.list_sessions(conn, query)


def find_offersets(store: Store, query: Listing) -> Page:
    """A page of offer sets, newest first, each with its offers."""
    with store.reading() as conn:
        return listing.list_offersets(conn, query)


def story(store: Store, uuid: UUID) -> tuple[Session | None, str | None, list[Transition]]:
    """One session, its owner and every phase it went through, read together."""
    with store.reading() as conn:
        return records.get_session(conn, uuid), records.owner_of_session(conn, uuid), records.history(conn, uuid)


def holds(store: Store, now: datetime) -> dict[tuple[str, str], Usage]:
    """What offers and sessions hold at `now`, per (site, VO); sibling offers count once, as their largest."""
    with store.reading() as conn:
        live = records.live_holds(conn, now)
    return {scope: calendar.peak(now, now + _INSTANT) for scope, calendar in calendars(live).items()}

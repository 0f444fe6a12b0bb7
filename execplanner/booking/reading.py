"""Reading what was booked, with its owner, in one snapshot: the API decides who may see it."""

from __future__ import annotations

from uuid import UUID

from execplanner.model.documents import OfferSet, Session
from execplanner.store import records
from execplanner.store.database import Store


def offerset(store: Store, uuid: UUID) -> tuple[OfferSet | None, str | None]:
    with store.reading() as conn:
        return records.get_offerset(conn, uuid), records.owner_of_offerset(conn, uuid)


def session(store: Store, uuid: UUID) -> tuple[Session | None, str | None]:
    with store.reading() as conn:
        return records.get_session(conn, uuid), records.owner_of_session(conn, uuid)

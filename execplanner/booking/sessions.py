"""Client-driven changes to a booked session (accept, reject, cancel), each one transaction: the owner check,
the phase change through `lifecycle`, and the holds that follow it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from sqlalchemy import Connection

from execplanner.lifecycle.sessions import update_session
from execplanner.model.documents import Session, UpdateRequest
from execplanner.store import records
from execplanner.store.database import Store

# Checks who may steer a session, given its owner (None: nobody authenticated); raises to refuse.
Authorise = Callable[[str | None], None]


def update(store: Store, uuid: UUID, change: UpdateRequest, now: datetime, authorise: Authorise) -> Session:
    """Apply a client's update and return the session as it now is."""

    def work(conn: Connection) -> Session:
        authorise(records.owner_of_session(conn, uuid))  # no session: None here, then 404 below
        return update_session(conn, uuid, change, now)

    return store.run(work)

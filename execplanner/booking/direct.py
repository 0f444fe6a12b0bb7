"""Direct execution: plan like an offer set, take the best offer, and book it already ACCEPTED — in one
transaction, under the same capacity lock as offer sets, so concurrent direct requests never over-commit."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from uuid import uuid4

from sqlalchemy import Connection

from execplanner.booking.holds import holds_of
from execplanner.booking.idempotency import Replayed, made_before
from execplanner.booking.offersets import offered_session, resolved
from execplanner.errors import InvalidRequest
from execplanner.lifecycle.transitions import apply
from execplanner.model.documents import Interval, OfferSetRequest, Session
from execplanner.model.idempotency import IdempotencyKey
from execplanner.model.phase import Phase
from execplanner.planner.plan import ANONYMOUS, Caller, Planner
from execplanner.store import records
from execplanner.store.database import Store

log = logging.getLogger("execplanner.booking")


def _now_unless_told(request: OfferSetRequest, now: datetime) -> OfferSetRequest:
    """Direct execution starts now, unless the request names its start intervals: no later offer to choose."""
    if request.schedule.start:
        return request
    schedule = request.schedule.model_copy(update={"start": [Interval(start=now, duration=timedelta(0))]})
    return request.model_copy(update={"schedule": schedule})


def create_direct(
    store: Store, request: OfferSetRequest, planner: Planner, now: datetime, *, caller: Caller = ANONYMOUS
) -> Session:
    """The best offer for `request`, stored ACCEPTED with its hold; a 400 naming why when there is none."""
    booked = book_direct(store, request, planner, now, caller=caller)
    return booked.made if isinstance(booked, Replayed) else booked


def book_direct(
    store: Store,
    request: OfferSetRequest,
    planner: Planner,
    now: datetime,
    *,
    caller: Caller = ANONYMOUS,
    key: IdempotencyKey | None = None,
) -> Session | Replayed[Session]:
    """`create_direct`, unless a request with the same Idempotency-Key `key` made a session before: that session
    then, as it is now (`Replayed`), and nothing booked (KeyReused when the earlier request had another body)."""
    asked = resolved(_now_unless_told(request, now))

    def book(conn: Connection) -> Session | Replayed[Session]:
        records.lock_capacity(conn)
        made = made_before(conn, key) if key is not None else None
        earlier = records.get_session(conn, made) if made is not None else None
        if earlier is not None:
            return Replayed(earlier)
        plan = planner(asked, records.live_holds(conn, now), now, caller)
        if not plan.offers:
            raise InvalidRequest(
                "the request cannot be planned: " + "; ".join(m.message for m in plan.messages),
                details=[m.message for m in plan.messages],
            )
        session = offered_session(request, plan.offers[0], uuid4(), 0, now, now).model_copy(
            update={"offerset": None, "phase": Phase.INITIAL, "expires": None, "messages": plan.messages}
        )
        records.insert_sessions(conn, [session], owners=[caller.owner])
        records.insert_holds(conn, holds_of([session]))  # its own hold from the start: a direct session is no offer
        apply(conn, session.uuid, Phase.ACCEPTED, "direct execution request", now, expect=Phase.INITIAL)
        if key is not None:
            records.remember_keys(conn, [(key, session.uuid)], now)
        stored = records.get_session(conn, session.uuid)
        assert stored is not None
        return stored

    booked = store.run(book)
    if isinstance(booked, Replayed):
        log.info("direct_session_replayed session=%s", booked.made.uuid)
    else:
        log.info("direct_session_created session=%s site=%s", booked.uuid, booked.placement and booked.placement.site)
    return booked

"""Asking without booking: the legacy `/accepts` question is planned against what is held now, and nothing is
stored or held."""

from __future__ import annotations

from datetime import datetime

from execplanner.booking.offersets import resolved
from execplanner.model.documents import OfferSetRequest
from execplanner.planner.plan import ANONYMOUS, Caller, Plan, Planner
from execplanner.store import records
from execplanner.store.database import Store


def ask_only(
    store: Store, request: OfferSetRequest, planner: Planner, now: datetime, caller: Caller = ANONYMOUS
) -> Plan:
    with store.reading() as conn:
        holds = records.live_holds(conn, now)
    return planner(resolved(request), holds, now, caller)

"""The scheduler keeps up (issue #16.7): due offers are expired in batches, replicas share the work without
expiring anything twice, holds whose interval is over end without anything being launched, and the lag is a
plain value."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import sqlalchemy
from support.builders import one_core_offers

from execplanner.booking import Ask, create_direct, create_offersets
from execplanner.lifecycle.scheduler import SchedulerStatus, end_overdue_holds, expire_due, one_pass
from execplanner.model.documents import (
    Executable,
    ExecutableKind,
    OfferSetRequest,
)
from execplanner.model.phase import Phase
from execplanner.store import records
from execplanner.store.database import Store

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
REQUEST = OfferSetRequest(executable=Executable(kind=ExecutableKind.DOCKER_CONTAINER))


four_offers = one_core_offers(4, timedelta(minutes=20))


def two_thousand_offers(store: Store) -> None:
    asks = [Ask(REQUEST, NOW, timedelta(minutes=5)) for _ in range(500)]
    assert all(not isinstance(r, Exception) for r in create_offersets(store, asks, four_offers))


def expiries(url: str) -> list[int]:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            return [
                n
                for (n,) in conn.execute(
                    sqlalchemy.text("SELECT count(*) FROM transitions WHERE to_phase = 'EXPIRED' GROUP BY session_uuid")
                )
            ]
    finally:
        engine.dispose()


def test_two_replicas_expire_two_thousand_offers_each_once(database_url):
    stores = [Store.open(database_url), Store.open(database_url, migrate=False)]
    two_thousand_offers(stores[0])
    due = NOW + timedelta(minutes=5)
    with ThreadPoolExecutor(max_workers=2) as pool:
        counts = list(pool.map(lambda store: expire_due(store, due), stores))
    assert sum(counts) == 2000
    assert expiries(database_url) == [1] * 2000
    with stores[0].reading() as conn:
        assert records.all_holds(conn) == []  # expiry gave every hold back
    for store in stores:
        store.close()


def test_holds_end_when_their_interval_is_over_even_if_nothing_launches(database_url):
    store = Store.open(database_url)
    session = create_direct(store, REQUEST, four_offers, NOW)  # ACCEPTED, and no launcher in this test
    assert session.phase is Phase.ACCEPTED
    with store.reading() as conn:
        [hold] = records.all_holds(conn)
    assert end_overdue_holds(store, hold.end - timedelta(seconds=1)) == 0
    assert end_overdue_holds(store, hold.end) == 1
    with store.reading() as conn:
        assert records.all_holds(conn) == []
        assert records.get_session(conn, session.uuid).phase is Phase.ACCEPTED  # the driver's to move, not ours
    store.close()


def test_the_lag_says_how_late_the_oldest_offer_was_expired(database_url):
    store = Store.open(database_url)
    asks = [Ask(REQUEST, datetime.now(UTC) - timedelta(minutes=10), timedelta(minutes=5))]
    create_offersets(store, asks, four_offers)  # expired five minutes ago, and nobody noticed
    status = SchedulerStatus()
    one_pass(store, status)
    assert status.expired == 4 and status.passes == 1
    assert 300 <= status.lag_seconds < 400
    one_pass(store, status)
    assert status.lag_seconds == 0.0 and status.expired == 4
    store.close()

"""Found by the 400-client attack on two PostgreSQL replicas (issue #16.4): both replicas' launch drivers found an
accepted session without a launch record and both inserted one; the second failed the whole driver pass with
`duplicate key value violates unique constraint "launches_pkey"`. Making the record must be idempotent."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import sqlalchemy
from test_capacity_machine import PLANNER, request

from execplanner.booking import create_direct
from execplanner.store import launches
from execplanner.store.database import Store


def _waiting_on_a_lock(store: Store) -> bool:
    query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
    with store.engine.connect() as watcher:  # a new transaction each time: pg_stat_activity is per-transaction
        return watcher.execute(sqlalchemy.text(query)).scalar() >= 1


def test_two_drivers_making_one_launch_record_at_once_both_succeed(postgres_url_fresh, wait_for):
    store = Store.open(postgres_url_fresh)
    try:
        now = datetime.now(UTC)
        session = create_direct(store, request(1, False, 0), PLANNER, now)
        site, vo = session.placement.site, session.placement.vo
        failures: list[BaseException] = []

        def second_replica() -> None:
            try:
                with store.engine.begin() as conn:
                    launches.ensure(conn, session.uuid, site, vo, now)
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                failures.append(exc)

        with store.engine.begin() as first:
            launches.ensure(first, session.uuid, site, vo, now)  # inserted, not yet committed
            other = threading.Thread(target=second_replica)
            other.start()
            wait_for(lambda: _waiting_on_a_lock(store), timeout=20)  # the second insert waits on the first's key
        other.join(timeout=30)
        assert not failures, failures
        with store.engine.connect() as conn:
            assert launches.get(conn, session.uuid).state == "new"
    finally:
        store.close()

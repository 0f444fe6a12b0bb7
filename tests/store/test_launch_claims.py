"""A driver pass claims every due session in one statement (`launches.claim_all`): the claims a replica gets
are exactly those `claim` one by one gave it — none another replica holds unexpired, its own again, lapsed
ones — and the records the sessions lack are made on the way."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy
from test_attack_launch_race import _waiting_on_a_lock
from test_capacity_machine import PLANNER, request

from execplanner.booking import create_direct
from execplanner.store import launches, tables
from execplanner.store.database import Store


def _sessions(store: Store, count: int, now: datetime) -> list:
    return [create_direct(store, request(1, False, 0), PLANNER, now).uuid for _ in range(count)]


def test_claim_all_takes_the_free_ones_in_order_and_makes_their_records(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'claims.sqlite'}")
    try:
        now = datetime.now(UTC)
        until = now + timedelta(minutes=15)
        a, b, c, d = _sessions(store, 4, now)
        with store.transaction() as conn:
            assert launches.claim_all(conn, [b], "other", until, now) == [b]  # another replica holds b
            assert launches.claim_all(conn, [c], "other", now - timedelta(seconds=1), now) == [c]  # c's claim lapsed
            conn.execute(sqlalchemy.update(tables.sessions).where(tables.sessions.c.uuid == str(d)).values(site=None))
        with store.transaction() as conn:
            assert launches.claim_all(conn, [c, b, a, d], "mine", until, now) == [c, a]
            assert launches.get(conn, a).state == "new"
            assert launches.get(conn, d) is None  # no placement: nothing to launch, no record
            assert launches.claim_all(conn, [a], "mine", until + timedelta(seconds=1), now) == [a]  # its own again
            assert launches.claim_all(conn, [], "mine", until, now) == []
        with store.reading() as conn:
            rows = conn.execute(sqlalchemy.select(tables.launches.c.session_uuid, tables.launches.c.claimed_by)).all()
        assert dict(rows) == {str(a): "mine", str(b): "other", str(c): "mine"}
    finally:
        store.close()


def test_two_replicas_claiming_the_same_new_sessions_at_once_split_them_without_failing(
    postgres_url_fresh, wait_for
) -> None:
    store = Store.open(postgres_url_fresh)
    try:
        now = datetime.now(UTC)
        until = now + timedelta(minutes=15)
        sessions = _sessions(store, 3, now)
        failures: list[BaseException] = []
        second: list = []

        def other_replica() -> None:
            try:
                with store.engine.begin() as conn:
                    second.extend(launches.claim_all(conn, sessions, "replica-b", until, now))
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                failures.append(exc)

        with store.engine.begin() as first:
            assert launches.claim_all(first, sessions, "replica-a", until, now) == sessions  # not yet committed
            other = threading.Thread(target=other_replica)
            other.start()
            wait_for(lambda: _waiting_on_a_lock(store), timeout=20)  # its insert waits on the first's keys
        other.join(timeout=30)
        assert not failures, failures
        assert second == []  # the first replica's claims stand
    finally:
        store.close()

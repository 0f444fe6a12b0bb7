"""PostgreSQL under concurrent clients: deadlocks and serialisation failures are retried, never surfaced; an
accept racing its siblings' rejection or acceptance gets the right answer (issue #16.3)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy
from support.builders import one_core_offers

from execplanner.booking import create_offerset
from execplanner.booking import sessions as booked
from execplanner.errors import IllegalTransition
from execplanner.model.documents import (
    Executable,
    ExecutableKind,
    OfferSetRequest,
    UpdateRequest,
)
from execplanner.model.phase import Phase
from execplanner.store import records
from execplanner.store.database import Store

NOW = datetime.now(UTC)
REQUEST = OfferSetRequest(executable=Executable(kind=ExecutableKind.DOCKER_CONTAINER))


four_offers = one_core_offers(4, timedelta(hours=1))


@pytest.fixture
def replicas(postgres_url_fresh):
    stores = [Store.open(postgres_url_fresh), Store.open(postgres_url_fresh, migrate=False)]
    yield stores
    for store in stores:
        store.close()


def change(store: Store, uuid, phase: str) -> str:
    try:
        booked.update(store, uuid, UpdateRequest(path="phase", value=phase), NOW, lambda _owner: None)
        return "ok"
    except IllegalTransition as exc:
        return f"409 {exc.message}"


def test_an_accept_racing_its_siblings_rejection_is_never_refused(replicas):
    sets = [create_offerset(replicas[0], REQUEST, four_offers, NOW, timedelta(hours=1)) for _ in range(25)]
    with ThreadPoolExecutor(max_workers=8) as pool:  # the PostgreSQL server is shared: mind its connections
        jobs = []
        for n, offerset in enumerate(sets):
            first, *others = [o.uuid for o in offerset.offers]
            jobs += [pool.submit(change, replicas[(n + i) % 2], u, "REJECTED") for i, u in enumerate(others)]
            jobs.append(pool.submit(change, replicas[n % 2], first, "ACCEPTED"))
        results = [job.result() for job in jobs]  # an unexpected exception (a deadlock, a 500) raises here
    accepts = results[3::4]
    assert accepts == ["ok"] * len(sets), [r for r in accepts if r != "ok"]
    assert all(r == "ok" or "is REJECTED" in r for r in results)  # a reject that lost to the accept: a true 409
    with replicas[0].reading() as conn:
        for offerset in sets:
            phases = [records.get_session(conn, o.uuid).phase for o in offerset.offers]
            assert phases == [Phase.ACCEPTED, Phase.REJECTED, Phase.REJECTED, Phase.REJECTED]
            assert [h.session for h in records.all_holds(conn) if h.session in {o.uuid for o in offerset.offers}] == [
                offerset.offers[0].uuid
            ]


def test_siblings_accepted_at_once_one_wins_the_others_are_told_why(replicas):
    sets = [create_offerset(replicas[0], REQUEST, four_offers, NOW, timedelta(hours=1)) for _ in range(15)]
    with ThreadPoolExecutor(max_workers=8) as pool:  # the PostgreSQL server is shared: mind its connections
        outcomes = [
            [pool.submit(change, replicas[i % 2], o.uuid, "ACCEPTED") for i, o in enumerate(offerset.offers)]
            for offerset in sets
        ]
        answers = [[job.result() for job in jobs] for jobs in outcomes]
    for answer in answers:
        assert answer.count("ok") == 1
        assert all("is REJECTED: it cannot be set to ACCEPTED" in a for a in answer if a != "ok")


def test_a_deadlock_is_retried_not_surfaced(replicas):
    """Two transactions that lock two rows in opposite orders: PostgreSQL aborts one, `Store.run` runs it again."""
    offerset = create_offerset(replicas[0], REQUEST, four_offers, NOW, timedelta(hours=1))
    a, b = (str(o.uuid) for o in offerset.offers[:2])
    barrier = threading.Barrier(2)
    attempts = {"first": 0, "second": 0}

    def locker(store: Store, name: str, order: tuple[str, str]):
        def work(conn: sqlalchemy.Connection) -> str:
            attempts[name] += 1
            for n, uuid in enumerate(order):
                conn.execute(sqlalchemy.text("SELECT 1 FROM sessions WHERE uuid = :u FOR UPDATE"), {"u": uuid})
                if n == 0 and attempts[name] == 1:
                    barrier.wait(timeout=10)
            return name

        return store.run(work)

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(locker, replicas[0], "first", (a, b))
        second = pool.submit(locker, replicas[1], "second", (b, a))
        assert {first.result(timeout=30), second.result(timeout=30)} == {"first", "second"}
    assert sorted(attempts.values()) == [1, 2]  # one of them was aborted once and ran again

"""The scheduler's store (`Store.background()`) does not queue behind request handlers (issue #16.7): on
PostgreSQL it has a connection of its own, which requests never take, and on SQLite its writes go before every
ordinary write waiting (then the others, in arrival order), so an expiry waits for one transaction at most."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from support.builders import one_core_offers

from execplanner.booking import Ask, create_offersets
from execplanner.lifecycle.scheduler import Scheduler, expire_due
from execplanner.model.documents import Executable, ExecutableKind, OfferSet, OfferSetRequest
from execplanner.model.phase import Phase
from execplanner.store import records
from execplanner.store.database import Store

REQUEST = OfferSetRequest(executable=Executable(kind=ExecutableKind.DOCKER_CONTAINER))
WAITING_FOR_A_LOCK = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


def test_the_loop_has_a_connection_of_its_own_when_requests_hold_every_other(postgres_url_fresh):
    store = Store.open(postgres_url_fresh, connections=2)  # one for requests, one for the scheduler
    [offerset] = create_offersets(
        store, [Ask(REQUEST, datetime.now(UTC), timedelta(0))], one_core_offers(2, timedelta(minutes=20))
    )
    assert isinstance(offerset, OfferSet)
    background = store.background()
    try:
        # the requests' pool is empty (its one connection taken): a request would wait up to 60 s for it
        with store.engine.connect(), ThreadPoolExecutor(max_workers=1) as pool:
            assert pool.submit(expire_due, background).result(timeout=10) == 2
        with store.reading() as conn:
            assert all(records.get_session(conn, o.uuid).phase is Phase.EXPIRED for o in offerset.offers)
    finally:
        background.close()
        store.close()


def test_the_loop_goes_first_in_sqlites_writer_queue(tmp_path, wait_for):
    store = Store.open(f"sqlite:///{tmp_path / 'execplanner.sqlite'}")
    background = store.background()
    queue = store.writers
    assert queue is not None and background.writers is queue
    order: list[str] = []

    def write(name: str, on: Store) -> None:
        on.run(lambda conn: order.append(name))

    threads = []
    try:
        with store.transaction():  # a request's write in progress
            for i in range(3):
                threads.append(threading.Thread(target=write, args=(f"request{i}", store)))
                threads[-1].start()
                wait_for(lambda n=i + 1: queue.waiting == (n, 0))
            threads.append(threading.Thread(target=write, args=("scheduler", background)))
            threads[-1].start()
            wait_for(lambda: queue.waiting == (3, 1))
        for thread in threads:
            thread.join(timeout=10)
        assert order == ["scheduler", "request0", "request1", "request2"]  # then the others, in arrival order
    finally:
        background.close()
        store.close()


def waiting_for_a_lock(store: Store) -> bool:
    """Whether a connection to the database waits for a lock now (a new transaction each time: PostgreSQL shows
    pg_stat_activity as it was when a transaction first read it)."""
    with store.reading() as conn:
        return conn.execute(text(WAITING_FOR_A_LOCK)).scalar_one() > 0


def test_a_transaction_left_open_elsewhere_holds_the_loop_for_seconds_not_forever(postgres_url_fresh, wait_for):
    """Expiring an offer gives its hold back, which moves the one capacity counter row: a transaction that moved
    it and then hangs (a replica frozen mid-request, a client left idle in transaction) blocked every replica's
    loop on that row, and stopping the service waited on the loop for as long. The loop's connection gives up
    waiting for a lock after a few seconds: the pass fails, is logged, and the loop stops when told."""
    store = Store.open(postgres_url_fresh, connections=3)
    create_offersets(store, [Ask(REQUEST, datetime.now(UTC), timedelta(0))], one_core_offers(2, timedelta(minutes=20)))
    scheduler = Scheduler(store, 0.25)
    thread = threading.Thread(target=scheduler.run_forever)
    try:
        with store.engine.connect() as hung, hung.begin():
            hung.execute(text("UPDATE capacity_version SET version = version WHERE id = 1"))
            thread.start()
            wait_for(lambda: waiting_for_a_lock(store), timeout=10)  # the loop's pass waits for the row
            scheduler.stop()
            thread.join(timeout=20)
            assert not thread.is_alive()
    finally:
        scheduler.stop()
        thread.join(timeout=30)
        store.close()

"""The scheduler's store (`Store.background()`) does not queue behind request handlers (issue #16.7): on
PostgreSQL it has a connection of its own, which requests never take, and on SQLite its writes go before every
ordinary write waiting (then the others, in arrival order), so an expiry waits for one transaction at most."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from support.builders import one_core_offers

from execplanner.booking import Ask, create_offersets
from execplanner.lifecycle.scheduler import expire_due
from execplanner.model.documents import Executable, ExecutableKind, OfferSet, OfferSetRequest
from execplanner.model.phase import Phase
from execplanner.store import records
from execplanner.store.database import Store

REQUEST = OfferSetRequest(executable=Executable(kind=ExecutableKind.DOCKER_CONTAINER))


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

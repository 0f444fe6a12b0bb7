"""The scheduler keeps up (issue #16.7) because it wakes when an offer falls due, not at its next fixed pass:
with the interval at 30 s, an offer that expires 0.3 s from now is expired a fraction of a second after its
`expires`, whether it was stored before the loop went to sleep or the booking writer stored it (and told the
loop) afterwards. The expiry is stamped with the instant it was written. (That the loop's work does not queue
behind request handlers' is tests/store/test_background_store.py.)"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from support.builders import one_core_offers

from execplanner.booking import Ask, OfferSetWriter, create_offersets
from execplanner.lifecycle.scheduler import Scheduler, expire_due
from execplanner.model.documents import Executable, ExecutableKind, OfferSet, OfferSetRequest
from execplanner.model.phase import Phase
from execplanner.store import records
from execplanner.store.database import Store

REQUEST = OfferSetRequest(executable=Executable(kind=ExecutableKind.DOCKER_CONTAINER))
INTERVAL = 30.0  # far longer than any wait below: only a wake-up at the expiry passes these tests
two_offers = one_core_offers(2, timedelta(minutes=20))


def ask(expires_in: float) -> Ask:
    return Ask(REQUEST, datetime.now(UTC), timedelta(seconds=expires_in))


def offers_expiring_in(store: Store, seconds: float) -> OfferSet:
    [offerset] = create_offersets(store, [ask(seconds)], two_offers)
    assert isinstance(offerset, OfferSet) and offerset.offers
    return offerset


def expired_at(store: Store, uuid: UUID) -> datetime | None:
    with store.reading() as conn:
        return next((t.at for t in records.history(conn, uuid) if t.to_phase is Phase.EXPIRED), None)


@pytest.fixture
def running(database_url: str) -> Iterator[tuple[Store, Scheduler]]:
    """A store and a scheduler loop on it, in a thread, at a 30 s interval; stopped and closed afterwards."""
    store = Store.open(database_url)
    scheduler = Scheduler(store, INTERVAL)
    thread = threading.Thread(target=scheduler.run_forever, name="scheduler-under-test")
    thread.start()
    try:
        yield store, scheduler
    finally:
        scheduler.stop()
        thread.join(timeout=10)
        store.close()
    assert not thread.is_alive()


def assert_expired_on_time(store: Store, offerset: OfferSet, wait_for) -> None:
    """Every offer EXPIRED, stamped at or after its `expires` and well before the 30 s interval was up (a second
    of room for a loaded machine: what a fixed-interval loop would take is 30 s)."""
    for offer in offerset.offers:
        at = wait_for(lambda uuid=offer.uuid: expired_at(store, uuid), timeout=10)
        assert offerset.expires <= at < offerset.expires + timedelta(seconds=1), (at, offerset.expires)


def test_an_offer_stored_before_the_loop_sleeps_is_expired_when_it_falls_due(database_url, wait_for):
    store = Store.open(database_url)
    offerset = offers_expiring_in(store, 0.3)
    scheduler = Scheduler(store, INTERVAL)
    thread = threading.Thread(target=scheduler.run_forever)
    thread.start()  # its first pass reads when the next offer expires, and sleeps until then
    try:
        assert_expired_on_time(store, offerset, wait_for)
        assert scheduler.status.expired == 2
        assert scheduler.status.passes <= 4  # the start, the expiry, and no polling in between (room for a retry)
    finally:
        scheduler.stop()
        thread.join(timeout=10)
        store.close()


def test_an_offer_the_writer_stores_while_the_loop_sleeps_wakes_it(running, wait_for):
    store, scheduler = running
    wait_for(lambda: scheduler.status.passes >= 1)  # nothing to do: asleep for the interval
    writer = OfferSetWriter(store, two_offers, expiring=scheduler.expiring)
    writer.start()
    try:
        offerset = asyncio.run(writer.submit(ask(0.3)))
    finally:
        writer.stop()
    assert_expired_on_time(store, offerset, wait_for)
    assert scheduler.status.expired == 2


def test_the_earliest_of_several_expiries_told_wakes_the_loop(running, wait_for):
    store, scheduler = running
    wait_for(lambda: scheduler.status.passes >= 1)
    late, soon = offers_expiring_in(store, 20), offers_expiring_in(store, 0.3)
    scheduler.expiring(late.expires)
    scheduler.expiring(soon.expires)
    assert_expired_on_time(store, soon, wait_for)
    assert expired_at(store, late.offers[0].uuid) is None


def test_an_expiry_is_stamped_when_it_is_written_not_when_the_offer_fell_due(store):
    [offerset] = create_offersets(
        store, [Ask(REQUEST, datetime.now(UTC) - timedelta(minutes=10), timedelta(minutes=5))], two_offers
    )
    before = datetime.now(UTC)
    assert expire_due(store) == 2
    after = datetime.now(UTC)
    for offer in offerset.offers:
        assert before <= expired_at(store, offer.uuid) <= after


@pytest.mark.parametrize("interval", [1e10, math.inf])
def test_an_interval_longer_than_a_thread_can_wait_does_not_end_the_loop(interval, store, wait_for):
    """The interval is only the longest the loop sleeps, so a vast one (`inf`: wake only when told) is a setting
    the loop must live with: with nothing pending it waited that long at once, which threading refuses
    (OverflowError past threading.TIMEOUT_MAX), and the thread died, so no offer expired again."""
    scheduler = Scheduler(store, interval)
    thread = threading.Thread(target=scheduler.run_forever)
    thread.start()
    try:
        wait_for(lambda: scheduler.status.passes >= 1)  # nothing pending: asleep for the interval
        offerset = offers_expiring_in(store, 0.3)
        scheduler.expiring(offerset.expires)
        assert_expired_on_time(store, offerset, wait_for)
        assert thread.is_alive()
    finally:
        scheduler.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()

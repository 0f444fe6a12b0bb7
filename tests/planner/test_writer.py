"""Group commit: concurrent requests share transactions, each gets its own answer, and one request's failure
does not sink the others in its batch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from execplanner.booking.offersets import Ask
from execplanner.booking.writer import OfferSetWriter
from execplanner.model.documents import (
    Executable,
    ExecutableKind,
    MinMax,
    OfferSetRequest,
    Placement,
    Result,
    ScheduleBlock,
    ScheduleOffer,
)
from execplanner.planner.plan import Offer, Plan
from execplanner.store import records
from execplanner.store.database import Store


@pytest.fixture
def store(emptied_store):
    """One database per backend for the module, emptied before each test: these tests write and read rows, never
    the schema, so a new database each (created, migrated, dropped) bought nothing."""
    return emptied_store


NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def one_slot_planner(request, usage, now, caller=None) -> Plan:
    """One offer on a site with room for three VMs; a request named 'boom' makes the planner fail."""
    if request.name == "boom":
        raise RuntimeError("planner bug for this request only")
    if sum(h.usage.instances for h in usage if h.site == "S") >= 3:
        return Plan()
    block = ScheduleBlock(start=now, duration=timedelta(hours=1))
    return Plan(
        offers=[
            Offer(
                placement=Placement(site="S", vo="v", flavor_id="f", flavor_name="f", cores=1, memory_mib=1024),
                schedule=ScheduleOffer(preparing=block, available=block, releasing=block),
                cores=MinMax(min=1, max=1),
                memory_gib=MinMax(min=1, max=1),
            )
        ]
    )


def ask(name: str) -> Ask:
    request = OfferSetRequest(name=name, executable=Executable(kind=ExecutableKind.DOCKER_CONTAINER))
    return Ask(request, NOW, timedelta(minutes=5))


def test_batch_answers_each_request_and_isolates_failures(store):
    writer = OfferSetWriter(store, one_slot_planner)
    writer.start()

    async def submit_all():
        return await asyncio.gather(
            *(writer.submit(ask(n)) for n in ["a", "b", "boom", "c", "d", "e"]), return_exceptions=True
        )

    try:
        results = asyncio.run(submit_all())
    finally:
        writer.stop()
    failed = [r for r in results if isinstance(r, Exception)]
    answered = [r for r in results if not isinstance(r, Exception)]
    assert len(failed) == 1 and "only" in str(failed[0])
    assert sorted(r.name for r in answered) == ["a", "b", "c", "d", "e"]
    assert sum(r.result is Result.YES for r in answered) == 3  # room for three, never more
    with store.reading() as conn:
        assert sum(h.usage.instances for h in records.all_holds(conn)) == 3
        for offerset in answered:
            assert records.get_offerset(conn, offerset.uuid) is not None


def test_stop_finishes_what_was_submitted(store):
    writer = OfferSetWriter(store, one_slot_planner)
    writer.start()

    async def submit_then_stop():
        pending = [writer.enqueue(ask(n)) for n in ("x", "y")]  # queued before the stop, synchronously
        await asyncio.get_running_loop().run_in_executor(None, writer.stop)
        return await asyncio.gather(*pending)

    results = asyncio.run(submit_then_stop())
    assert [r.result for r in results] == [Result.YES, Result.YES]


def test_a_request_the_database_refuses_does_not_sink_its_batch(postgres_url_fresh):
    """PostgreSQL refuses a 300-character offer-set name (requests read from documents cannot carry one; this one
    is built directly): the batch's transaction fails, and the writer stores its neighbours one by one."""
    store = Store.open(postgres_url_fresh)
    writer = OfferSetWriter(store, one_slot_planner)
    writer.start()

    async def submit_all():
        asks = [ask("a"), ask("n" * 300), ask("c")]
        pending = [writer.enqueue(a) for a in asks]  # queued together, so they share one batch
        return await asyncio.gather(*pending, return_exceptions=True)

    try:
        results = asyncio.run(submit_all())
    finally:
        writer.stop()
    assert isinstance(results[1], Exception)
    assert [r.result for r in (results[0], results[2])] == [Result.YES, Result.YES]
    with store.reading() as conn:
        assert sum(h.usage.instances for h in records.all_holds(conn)) == 2  # the refused one holds nothing
    store.close()


def test_new_offer_sets_and_sessions_get_time_ordered_unguessable_uuids(store):
    """Keys are RFC 9562 version 7 uuids (so each index grows at its end): later ones sort after earlier ones,
    and the random part differs every time."""
    from execplanner.booking.offersets import create_offersets

    first = create_offersets(store, [ask("a"), ask("b")], one_slot_planner)
    second = create_offersets(store, [ask("c")], one_slot_planner)
    offersets = [*first, *second]
    uuids = [u for o in offersets for u in (o.uuid, *(s.uuid for s in o.offers))]
    assert all(u.version == 7 for u in uuids)
    assert str(first[-1].uuid) < str(second[0].uuid)  # a later batch's key sorts later, as text too
    assert len({str(u)[-12:] for u in uuids}) == len(uuids)
    with store.reading() as conn:
        assert records.get_offerset(conn, second[0].uuid).offers[0].uuid == second[0].offers[0].uuid


def test_a_2026_offer_set_without_a_name_is_named_from_the_random_end_of_its_uuid():
    from uuid import UUID

    from execplanner.formats.encode import offerset_name
    from execplanner.model.documents import Dialect, OfferSet

    v7 = UUID("01a251ee-f6b4-7c40-af7d-a42bfbb6560a")
    v4 = UUID("5d4c9800-eaf6-418e-b8bb-2df072a8d8b8")  # stored before keys became version 7: name unchanged
    made = [OfferSet(uuid=u, created=NOW, dialect=Dialect.CALYCOPIS_2026, result=Result.NO) for u in (v7, v4)]
    assert [offerset_name(o) for o in made] == ["offerset-fbb6560a", "offerset-5d4c9800"]

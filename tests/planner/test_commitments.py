"""The offer-set writer keeps the live holds between batches: its calendars must equal those built afresh from
the holds, and it must reread the holds as soon as another transaction changed them."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from test_writer import NOW, ask, one_slot_planner

from execplanner.booking.commitments import CommitmentsCache
from execplanner.booking.offersets import create_offersets
from execplanner.model.capacity import Hold, Usage
from execplanner.planner.calendar import Commitments, calendars
from execplanner.store import records

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _random_holds(rng: random.Random, groups: int) -> list[list[Hold]]:
    """Offer sets (1..4 sibling holds each, some owned outright), over a few sites and overlapping hours."""
    sets = []
    for _ in range(groups):
        group = uuid4() if rng.random() < 0.7 else None
        siblings = []
        for _ in range(rng.randint(1, 4)):
            start = T0 + timedelta(hours=rng.randint(0, 20))
            usage = Usage(instances=1, cores=rng.randint(1, 8), memory_mib=1024 * rng.randint(1, 8))
            end = start + timedelta(hours=rng.randint(1, 6))
            siblings.append(Hold(rng.choice("AB"), "vo", start, end, usage, uuid4(), group))
        sets.append(siblings)
    return sets


def test_calendars_grown_one_offer_set_at_a_time_equal_those_built_at_once():
    rng = random.Random(7)
    sets = _random_holds(rng, 60)
    grown = Commitments(sets[0])
    for siblings in sets[1:]:
        grown.extend(siblings)
    every = [hold for siblings in sets for hold in siblings]
    fresh = calendars(every)
    assert list(grown) == every
    for _ in range(200):
        start = T0 + timedelta(hours=rng.randint(0, 26), minutes=rng.choice([0, 30]))
        end = start + timedelta(hours=rng.randint(1, 8))
        for scope, calendar in fresh.items():
            built = grown.calendar(scope)
            assert built.peak(start, end) == calendar.peak(start, end)
            assert built.ends_after(start) == calendar.ends_after(start)
    assert grown.calendar(("C", "vo")).peak(T0, T0 + timedelta(days=2)) == Usage()


def test_the_writer_rereads_the_holds_once_another_transaction_changed_them(store):
    cache = CommitmentsCache()
    [first] = create_offersets(store, [ask("a")], one_slot_planner, cache)
    with store.transaction() as conn:
        remembered, version = cache.take(conn, NOW)
    assert len(remembered) == 1
    cache.keep(remembered, version)

    [second] = create_offersets(store, [ask("b")], one_slot_planner, cache)  # its own booking: kept in memory
    with store.transaction() as conn:
        kept, version = cache.take(conn, NOW)
        assert kept is remembered and len(kept) == 2
    cache.keep(kept, version)

    with store.transaction() as conn:  # someone else gives the first offer's capacity back
        records.end_holds(conn, [first.offers[0].uuid])
    with store.transaction() as conn:
        reread, _ = cache.take(conn, NOW)
    assert reread is not kept
    assert [hold.session for hold in reread] == [second.offers[0].uuid]


def test_a_failed_batch_leaves_nothing_remembered(store):
    cache = CommitmentsCache()
    create_offersets(store, [ask("a")], one_slot_planner, cache)
    with store.transaction() as conn:
        remembered, _ = cache.take(conn, NOW)  # taken and never kept back, as by a batch whose commit failed
    with store.transaction() as conn:
        again, _ = cache.take(conn, NOW)
    assert again is not remembered and len(again) == 1

"""The single transition table and the single function that applies it, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from execplanner.booking.offersets import create_offerset
from execplanner.errors import IllegalTransition
from execplanner.lifecycle.scheduler import expire_due
from execplanner.lifecycle.sessions import update_session
from execplanner.lifecycle.transitions import TRANSITIONS, apply, client_options, is_legal
from execplanner.model.documents import (
    Executable,
    ExecutableKind,
    MinMax,
    OfferSetRequest,
    Placement,
    ScheduleBlock,
    ScheduleOffer,
    UpdateRequest,
)
from execplanner.model.phase import FINAL_PHASES, Phase
from execplanner.planner.plan import Offer, Plan
from execplanner.store import records


@pytest.fixture
def store(emptied_store):
    """One database per backend for the module, emptied before each test: these tests write and read rows, never
    the schema, so a new database each (created, migrated, dropped) bought nothing."""
    return emptied_store


NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
REQUEST = OfferSetRequest(executable=Executable(kind=ExecutableKind.JUPYTER_NOTEBOOK, location="https://x/a.ipynb"))


def two_offers(request, usage, now, caller=None) -> Plan:
    """A fixed planner: two offers on one site, an hour apart (these tests are about phases, not placement)."""
    offers = []
    for hours in (0, 1):
        block = ScheduleBlock(start=now + timedelta(hours=hours), duration=timedelta(hours=1))
        offers.append(
            Offer(
                placement=Placement(site="S", vo="v", flavor_id="f", flavor_name="m1", cores=1, memory_mib=2048),
                schedule=ScheduleOffer(preparing=block, available=block, releasing=block),
                cores=MinMax(min=1, max=1),
                memory_gib=MinMax(min=2, max=2),
            )
        )
    return Plan(offers=offers)


def test_table_covers_every_phase_and_final_phases_are_final():
    assert set(TRANSITIONS) == set(Phase)
    for phase in FINAL_PHASES:
        assert TRANSITIONS[phase] == frozenset()
        assert client_options(phase) == ()


def test_cancel_and_fail_reachable_from_every_live_phase():
    live = [Phase.ACCEPTED, Phase.WAITING, Phase.PREPARING, Phase.AVAILABLE, Phase.RUNNING, Phase.RELEASING]
    for phase in live:
        assert is_legal(phase, Phase.CANCELLED) and is_legal(phase, Phase.FAILED)


def test_client_options_are_legal_transitions():
    for phase in Phase:
        for option in client_options(phase):
            assert is_legal(phase, option)


def test_apply_writes_history_and_refuses_illegal_moves(store):
    offerset = create_offerset(store, REQUEST, two_offers, NOW, timedelta(minutes=5))
    uuid = offerset.offers[0].uuid
    with store.transaction() as conn:
        apply(conn, uuid, Phase.ACCEPTED, "test accept", NOW)
    with pytest.raises(IllegalTransition), store.transaction() as conn:
        apply(conn, uuid, Phase.COMPLETED, "skip ahead", NOW)
    with store.transaction() as conn:
        steps = records.history(conn, uuid)
        assert records.get_session(conn, uuid).phase is Phase.ACCEPTED
    assert [(s.from_phase, s.to_phase) for s in steps] == [(None, Phase.OFFERED), (Phase.OFFERED, Phase.ACCEPTED)]
    assert steps[1].reason == "test accept"


def test_expired_offer_cannot_be_accepted(store):
    offerset = create_offerset(store, REQUEST, two_offers, NOW, timedelta(minutes=5))
    later = NOW + timedelta(minutes=6)
    update = UpdateRequest(path="phase", value="ACCEPTED")
    with pytest.raises(IllegalTransition, match="expired"), store.transaction() as conn:
        update_session(conn, offerset.offers[0].uuid, update, later)


def test_refusing_an_expired_offer_counts_no_expiry_that_did_not_happen(store):
    """Found under 500 clients (tests/e2e/test_load_500_clients.py): the refusal used to apply EXPIRED in the
    transaction its own 409 rolls back, so the replicas' phase-change counters said more offers expired than had."""
    from prometheus_client import REGISTRY

    def expiries() -> float:
        return REGISTRY.get_sample_value("execplanner_phase_changes_total", {"phase": "EXPIRED"}) or 0.0

    offerset = create_offerset(store, REQUEST, two_offers, NOW, timedelta(minutes=5))
    before = expiries()
    later = NOW + timedelta(minutes=6)
    with pytest.raises(IllegalTransition, match="expired"), store.transaction() as conn:
        update_session(conn, offerset.offers[0].uuid, UpdateRequest(path="phase", value="ACCEPTED"), later)
    assert expiries() == before
    assert expire_due(store, later) == 2
    assert expiries() == before + 2
    with store.transaction() as conn:
        assert [s.to_phase for s in records.history(conn, offerset.offers[0].uuid)] == [Phase.OFFERED, Phase.EXPIRED]


def test_scheduler_expires_due_offers_once_across_replicas(store):
    offersets = [create_offerset(store, REQUEST, two_offers, NOW, timedelta(seconds=30)) for _ in range(5)]
    due = NOW + timedelta(seconds=31)
    counts: list[int] = []
    barrier = threading.Barrier(3)

    def replica() -> None:
        barrier.wait()
        counts.append(expire_due(store, due))

    threads = [threading.Thread(target=replica) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total_offers = sum(len(o.offers) for o in offersets)
    assert sum(counts) == total_offers
    with store.transaction() as conn:
        for offerset in offersets:
            for offer in offerset.offers:
                steps = records.history(conn, offer.uuid)
                assert [s.to_phase for s in steps] == [Phase.OFFERED, Phase.EXPIRED]


def test_accept_and_expiry_race_has_one_winner(store):
    offerset = create_offerset(store, REQUEST, two_offers, NOW, timedelta(seconds=30))
    uuid = offerset.offers[0].uuid
    at = NOW + timedelta(seconds=29)
    results: list[str] = []

    def accept() -> None:
        try:
            with store.transaction() as conn:
                update_session(conn, uuid, UpdateRequest(path="phase", value="ACCEPTED"), at)
            results.append("accepted")
        except IllegalTransition:
            results.append("refused")

    def expire() -> None:
        results.append(f"expired {expire_due(store, NOW + timedelta(seconds=31))}")

    threads = [threading.Thread(target=accept), threading.Thread(target=expire)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with store.transaction() as conn:
        final = records.get_session(conn, uuid).phase
        steps = records.history(conn, uuid)
    assert final in (Phase.ACCEPTED, Phase.EXPIRED)
    assert len([s for s in steps if s.from_phase is Phase.OFFERED]) == 1


def test_unknown_session_is_not_found(store):
    from execplanner.errors import NotFound

    with pytest.raises(NotFound), store.transaction() as conn:
        apply(conn, uuid4(), Phase.ACCEPTED, "x", NOW)

"""The holds always equal what the live sessions hold, on SQLite and PostgreSQL, including after a migration
from a database that predates them."""

from __future__ import annotations

import contextlib
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
import sqlalchemy
from alembic import command
from alembic.config import Config
from support.builders import empty_store, fixed_offers, one_core_offers, opened_store, placement

from execplanner.booking.holds import hold_of
from execplanner.booking.offersets import create_offerset
from execplanner.errors import IllegalTransition
from execplanner.lifecycle.transitions import TRANSITIONS, apply
from execplanner.model.capacity import Hold, Usage
from execplanner.model.documents import (
    Executable,
    ExecutableKind,
    OfferSetRequest,
    Session,
)
from execplanner.model.phase import HOLDING_PHASES, Phase
from execplanner.planner.plan import Caller
from execplanner.store import records
from execplanner.store.database import MIGRATIONS, Store


@pytest.fixture
def database_url(module_database_url: str) -> str:
    """The module's database of each kind, emptied before each test (the tests that open a store here write and
    read rows, never the schema; the migration tests build their own old databases)."""
    with opened_store(module_database_url) as store:
        empty_store(store)
    return module_database_url


NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)
REQUEST = OfferSetRequest(executable=Executable(kind=ExecutableKind.DOCKER_CONTAINER))


# three offers on three sites of different sizes
spread = fixed_offers(
    [
        placement(site, cores, fip, vo="vo.escape.eu", mib_per_core=2048)
        for site, cores, fip in (("A", 1, 1), ("B", 2, 0), ("C", 4, 1))
    ],
    timedelta(hours=1),
)


def from_sessions(store: Store) -> dict[str, Hold]:
    """What the sessions table alone says is held: each session in a holding phase, over its schedule."""
    with store.reading() as conn:
        rows = conn.execute(sqlalchemy.text("SELECT uuid, phase, document FROM sessions")).all()
    expected = {}
    for uuid, phase, document in rows:
        document = json.loads(document) if isinstance(document, str) else document
        session = Session.model_validate(document).model_copy(update={"phase": Phase(phase)})
        if session.phase in HOLDING_PHASES:
            expected[uuid] = hold_of(session)
    return expected


def ledger(store: Store) -> dict[str, Hold]:
    with store.reading() as conn:
        return {str(h.session): h for h in records.all_holds(conn)}


def test_holds_follow_every_transition(database_url):
    store = Store.open(database_url)
    chance = random.Random(7)
    sessions = [
        o.uuid for _ in range(6) for o in create_offerset(store, REQUEST, spread, NOW, timedelta(hours=1)).offers
    ]
    assert ledger(store) == from_sessions(store)
    for _ in range(120):
        uuid = chance.choice(sessions)
        with store.reading() as conn:
            phase = records.get_session(conn, uuid).phase
        targets = sorted(TRANSITIONS[phase])
        if not targets:
            continue
        try:
            with store.transaction() as conn:
                apply(conn, uuid, chance.choice(targets), "random walk", NOW)
        except IllegalTransition:
            pass
        assert ledger(store) == from_sessions(store)
    store.close()


@contextlib.contextmanager
def database_at(url: str, revision: str) -> Iterator[sqlalchemy.Connection]:
    """A database migrated only up to `revision`, for the test to fill as an older release would have."""
    engine = sqlalchemy.create_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
        yield conn
    engine.dispose()


RUNNING = uuid4()


def test_migration_gives_live_sessions_their_holds(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    schedule = {
        "preparing": {"start": "2026-01-01T10:00:00Z", "duration": "PT5M"},
        "available": {"start": "2026-01-01T10:05:00Z", "duration": "PT1H"},
        "releasing": {"start": "2026-01-01T11:05:00Z", "duration": "PT2M"},
    }
    placement = {"site": "A", "vo": "v", "flavor_id": "f", "flavor_name": "f", "cores": 2, "memory_mib": 4096}
    document = json.dumps({"schedule": schedule, "placement": placement})
    with database_at(url, "0004") as conn:
        conn.execute(
            sqlalchemy.text(
                "INSERT INTO sessions (uuid, created, updated, phase, dialect, site, vo, cores, memory_mib, instances, "
                "floating_ips, document) VALUES "
                "(:u1, '2026-01-01', '2026-01-01', 'RUNNING', '2025', 'A', 'v', 2, 4096, 1, 1, :doc), "
                "(:u2, '2026-01-01', '2026-01-01', 'COMPLETED', '2025', 'A', 'v', 8, 9000, 1, 0, :doc)"
            ),
            {"doc": document, "u1": str(RUNNING), "u2": str(uuid4())},
        )
    store = Store.open(url)
    [hold] = ledger(store).values()
    assert (hold.site, hold.vo, hold.session, hold.group) == ("A", "v", RUNNING, None)
    assert hold.usage == Usage(instances=1, cores=2, memory_mib=4096, floating_ips=1)
    assert hold.start == datetime(2026, 1, 1, 10, tzinfo=UTC) and hold.end == datetime(2026, 1, 1, 11, 7, tzinfo=UTC)
    store.close()


twelve_offers = one_core_offers(12, timedelta(hours=1))


def test_offer_set_reads_back_in_ranked_order(database_url):
    store = Store.open(database_url)
    made = create_offerset(store, REQUEST, twelve_offers, NOW, timedelta(minutes=5))
    with store.reading() as conn:
        again = records.get_offerset(conn, made.uuid)
    assert [o.uuid for o in again.offers] == [o.uuid for o in made.offers]
    assert [o.placement.site for o in again.offers] == [f"S{i}" for i in range(12)]  # offer-10 after offer-9
    store.close()


def test_offers_belong_to_whoever_asked(database_url):
    store = Store.open(database_url)
    alice = Caller(owner="alice@https://aai.egi.eu/auth/realms/egi")
    mine = create_offerset(store, REQUEST, twelve_offers, NOW, timedelta(minutes=5), caller=alice)
    anonymous = create_offerset(store, REQUEST, twelve_offers, NOW, timedelta(minutes=5))
    with store.reading() as conn:
        assert records.owner_of_offerset(conn, mine.uuid) == alice.owner
        assert {records.owner_of_session(conn, o.uuid) for o in mine.offers} == {alice.owner}
        assert records.owner_of_offerset(conn, anonymous.uuid) is None
        assert {records.owner_of_session(conn, o.uuid) for o in anonymous.offers} == {None}
    store.close()


def test_migration_gives_existing_sessions_their_offer_sets_owner(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    with database_at(url, "0003") as conn:
        conn.execute(
            sqlalchemy.text(
                "INSERT INTO offersets (uuid, created, dialect, result, owner, messages, request) VALUES "
                "('o1', '2026-01-01', '2025', 'YES', 'alice@checkin', '[]', '{}')"
            )
        )
        conn.execute(
            sqlalchemy.text(
                "INSERT INTO sessions (uuid, offerset_uuid, created, updated, phase, dialect, cores, memory_mib, "
                "instances, floating_ips, document) VALUES "
                "('s1', 'o1', '2026-01-01', '2026-01-01', 'OFFERED', '2025', 0, 0, 0, 0, '{}'), "
                "('s2', NULL, '2026-01-01', '2026-01-01', 'ACCEPTED', '2025', 0, 0, 0, 0, '{}')"
            )
        )
    store = Store.open(url)
    with store.reading() as conn:
        owners = dict(conn.execute(sqlalchemy.text("SELECT uuid, owner FROM sessions")).all())
    assert owners == {"s1": "alice@checkin", "s2": None}
    store.close()

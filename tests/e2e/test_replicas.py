"""Two replicas on one PostgreSQL database: both run the scheduler, each offer expires exactly once, and what
one replica offers the other sees and can accept.

Each test pairs the module's one real `execplanner serve` process with an app served in the test process: two
interpreters, so nothing in memory (module state, caches, locks) is shared between the replicas, only the
database, as in production; a second process would add a start-up and nothing the first does not already
separate. The tests share the database and read back only what they made."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy

NOTEBOOK = json.loads(
    (Path(__file__).resolve().parents[2] / "examples" / "requests" / "jupyter-notebook.json").read_text()
)
ACCEPT = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": "ACCEPTED"}}


@pytest.fixture(scope="module")
def replica(module_postgres_url, module_service_factory):
    """The real-process replica both tests pair with an in-process one, on the module's database; it expires
    offers it makes after 0.3 s. Each test reads back only what it made."""
    return module_service_factory(database=module_postgres_url, EXECPLANNER_OFFER_EXPIRY_SECONDS="0.3")


def test_two_replicas_share_state_and_expire_each_offer_once(http, replica, app_factory, module_postgres_url, wait_for):
    first = replica
    second = app_factory(database=module_postgres_url, EXECPLANNER_OFFER_EXPIRY_SECONDS="0.3")
    made = [http.post(first.url("/offersets"), json=NOTEBOOK).json() for _ in range(3)]
    made += [http.post(second.url("/offersets"), json=NOTEBOOK).json() for _ in range(3)]
    offers = [o["uuid"] for document in made for o in document["offers"]]

    seen = http.get(second.url(f"/offersets/{made[0]['uuid']}")).json()
    assert [o["uuid"] for o in seen["offers"]] == [o["uuid"] for o in made[0]["offers"]]

    def all_expired() -> bool:
        return all(http.get(first.url(f"/sessions/{u}")).json()["phase"] == "EXPIRED" for u in offers)

    wait_for(all_expired, timeout=10)
    mine = sqlalchemy.bindparam("mine", offers, expanding=True)
    engine = sqlalchemy.create_engine(module_postgres_url)
    try:
        with engine.connect() as conn:
            expiries = conn.execute(
                sqlalchemy.text(
                    "SELECT session_uuid, count(*) FROM transitions WHERE to_phase = 'EXPIRED' "
                    "AND session_uuid IN :mine GROUP BY session_uuid"
                ).bindparams(mine)
            ).all()
            held = conn.execute(
                sqlalchemy.text("SELECT coalesce(sum(instances), 0) FROM holds WHERE session_uuid IN :mine").bindparams(
                    mine
                )
            ).scalar_one()
    finally:
        engine.dispose()
    assert sorted(u for u, _ in expiries) == sorted(offers)
    assert all(count == 1 for _, count in expiries)
    assert held == 0


def test_accept_on_one_replica_rejects_siblings_seen_from_the_other(http, replica, app_factory, module_postgres_url):
    # offers made on the in-process replica hold for the default 300 s; accepted on the real one, seen from the first
    first = app_factory(database=module_postgres_url)
    second = replica
    document = http.post(first.url("/offersets"), json=NOTEBOOK).json()
    accepted = http.post(second.url(f"/sessions/{document['offers'][0]['uuid']}"), json=ACCEPT)
    assert accepted.status_code == 200
    phases = [http.get(first.url(f"/sessions/{o['uuid']}")).json()["phase"] for o in document["offers"]]
    assert phases[0] == "ACCEPTED" and set(phases[1:]) == {"REJECTED"}

"""Two replicas on one PostgreSQL database: both run the scheduler, each offer expires exactly once, and what
one replica offers the other sees and can accept.

Each pair is one real `execplanner serve` process and one app served in the test process: two interpreters, so
nothing in memory (module state, caches, locks) is shared between the replicas, only the database, as in
production; the second interpreter would add a start-up and nothing the first does not already separate."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy

NOTEBOOK = json.loads(
    (Path(__file__).resolve().parents[2] / "examples" / "requests" / "jupyter-notebook.json").read_text()
)
ACCEPT = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": "ACCEPTED"}}


def test_two_replicas_share_state_and_expire_each_offer_once(
    http, service_factory, app_factory, postgres_url_fresh, wait_for
):
    first = service_factory(database=postgres_url_fresh, EXECPLANNER_OFFER_EXPIRY_SECONDS="1")
    second = app_factory(database=postgres_url_fresh, EXECPLANNER_OFFER_EXPIRY_SECONDS="1")
    made = [http.post(first.url("/offersets"), json=NOTEBOOK).json() for _ in range(3)]
    made += [http.post(second.url("/offersets"), json=NOTEBOOK).json() for _ in range(3)]
    offers = [o["uuid"] for document in made for o in document["offers"]]

    seen = http.get(second.url(f"/offersets/{made[0]['uuid']}")).json()
    assert [o["uuid"] for o in seen["offers"]] == [o["uuid"] for o in made[0]["offers"]]

    def all_expired() -> bool:
        return all(http.get(first.url(f"/sessions/{u}")).json()["phase"] == "EXPIRED" for u in offers)

    wait_for(all_expired, timeout=10)
    engine = sqlalchemy.create_engine(postgres_url_fresh)
    try:
        with engine.connect() as conn:
            expiries = conn.execute(
                sqlalchemy.text(
                    "SELECT session_uuid, count(*) FROM transitions WHERE to_phase = 'EXPIRED' GROUP BY session_uuid"
                )
            ).all()
            held = conn.execute(sqlalchemy.text("SELECT coalesce(sum(instances), 0) FROM holds")).scalar_one()
    finally:
        engine.dispose()
    assert sorted(u for u, _ in expiries) == sorted(offers)
    assert all(count == 1 for _, count in expiries)
    assert held == 0


def test_accept_on_one_replica_rejects_siblings_seen_from_the_other(
    http, service_factory, app_factory, postgres_url_fresh
):
    first = service_factory(database=postgres_url_fresh)
    second = app_factory(database=postgres_url_fresh)
    document = http.post(first.url("/offersets"), json=NOTEBOOK).json()
    accepted = http.post(second.url(f"/sessions/{document['offers'][0]['uuid']}"), json=ACCEPT)
    assert accepted.status_code == 200
    phases = [http.get(first.url(f"/sessions/{o['uuid']}")).json()["phase"] for o in document["offers"]]
    assert phases[0] == "ACCEPTED" and set(phases[1:]) == {"REJECTED"}

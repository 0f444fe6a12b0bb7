"""Attack on the scheduler of #16.7 (PostgreSQL, the database for replicas): offers written by one replica,
which is SIGKILLed straight after, are expired within 1 s of their `expires` by the other, which nobody told of
them (its loop still looks at least every interval), each exactly once; that replica's /metrics carry the lag
figures, none negative, and count every expiry."""

from __future__ import annotations

import json
import signal
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy

NOTEBOOK = json.loads(
    (Path(__file__).resolve().parents[2] / "examples" / "requests" / "jupyter-notebook.json").read_text()
)
LAG = ("execplanner_scheduler_lag_seconds", "execplanner_offer_expiry_lag_seconds_count")
EXPIRIES = sqlalchemy.text(
    "SELECT s.uuid, s.expires, min(t.at), count(*) FROM sessions s"
    " JOIN transitions t ON t.session_uuid = s.uuid AND t.to_phase = 'EXPIRED' GROUP BY s.uuid, s.expires"
)


def _expiries(url: str) -> list[tuple[str, datetime, datetime, int]]:
    """Each expired offer: uuid, its `expires`, when it was stamped EXPIRED, and how many times."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            return [(row[0], row[1], row[2], row[3]) for row in conn.execute(EXPIRIES)]
    finally:
        engine.dispose()


def test_offers_of_a_killed_replica_expire_on_time_at_the_other(http, service_factory, postgres_url_fresh, wait_for):
    writer = service_factory(database=postgres_url_fresh, EXECPLANNER_OFFER_EXPIRY_SECONDS="2")
    other = service_factory(database=postgres_url_fresh, EXECPLANNER_OFFER_EXPIRY_SECONDS="2")
    with ThreadPoolExecutor(max_workers=8) as pool:
        made = list(pool.map(lambda _: http.post(writer.url("/offersets"), json=NOTEBOOK).json(), range(40)))
    writer.stop(signal.SIGKILL)
    offers = {o["uuid"] for document in made for o in document["offers"]}
    assert len(offers) >= 40

    wait_for(lambda: len(_expiries(postgres_url_fresh)) == len(offers), timeout=15)
    rows = _expiries(postgres_url_fresh)
    assert {u for u, *_ in rows} == offers
    assert all(count == 1 for *_, count in rows)
    lags = [at - expires for _, expires, at, _ in rows]
    assert all(timedelta(0) <= lag < timedelta(seconds=1) for lag in lags), (min(lags), max(lags))

    text = http.get(other.url("/metrics")).text
    values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines() if line.startswith(LAG)}
    assert set(values) == set(LAG), values
    assert all(value >= 0 for value in values.values()), values
    assert values["execplanner_offer_expiry_lag_seconds_count"] == len(offers)

"""Offers expire within a second of `expires`, also when many were made at once (issue #16.7), on SQLite and
PostgreSQL; the transition history says when."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest
import requests
import sqlalchemy

NOTEBOOK = json.loads(
    (Path(__file__).resolve().parents[2] / "examples" / "requests" / "jupyter-notebook.json").read_text()
)


def lateness(url: str) -> list[float]:
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sqlalchemy.text(
                    "SELECT s.expires, t.at FROM sessions s JOIN transitions t ON t.session_uuid = s.uuid "
                    "WHERE t.to_phase = 'EXPIRED'"
                )
            ).all()
    finally:
        engine.dispose()
    return [(_instant(at) - _instant(expires)).total_seconds() for expires, at in rows]


def _instant(value):
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


@pytest.mark.alone  # a one-second bound: beside no other test (docs/testing.md)
def test_offers_made_together_expire_within_a_second(app_factory, database_url, wait_for):
    server = app_factory(database=database_url, EXECPLANNER_OFFER_EXPIRY_SECONDS="2")
    with ThreadPoolExecutor(max_workers=20) as pool:
        made = list(
            pool.map(lambda _: requests.post(server.url("/offersets"), json=NOTEBOOK, timeout=60).json(), range(60))
        )
    offers = sum(len(m["offers"]) for m in made)
    assert offers >= 60
    wait_for(lambda: len(lateness(database_url)) == offers, timeout=20)
    late = lateness(database_url)
    assert max(late) < 1.0, sorted(late)[-5:]
    assert min(late) >= 0.0

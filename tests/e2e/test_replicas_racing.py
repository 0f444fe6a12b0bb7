"""Two replicas on one PostgreSQL database, many clients at once: asks, accepts racing their siblings' rejection,
and siblings accepted at once. No 5xx, no wrong 409 (issue #16.3), and capacity audits clean afterwards."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from capacity_audit import audit

from execplanner.catalogue import Catalogue

NOTEBOOK = json.loads(
    (Path(__file__).resolve().parents[2] / "examples" / "requests" / "jupyter-notebook.json").read_text()
)


def change(href: str, phase: str) -> requests.Response:
    update = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": phase}}
    return requests.post(href, json=update, timeout=60)


@pytest.mark.alone  # many clients at once: beside no other test (docs/testing.md)
def test_mixed_clients_on_two_replicas_never_see_a_5xx(service_factory, postgres_url_fresh, roomy_catalogue):
    replicas = [service_factory(database=postgres_url_fresh) for _ in range(2)]

    def ask(n: int) -> dict:
        return requests.post(replicas[n % 2].url("/offersets"), json=NOTEBOOK, timeout=60).json()

    with ThreadPoolExecutor(max_workers=8) as pool:  # the PostgreSQL server is shared: mind its connections
        sets = list(pool.map(ask, range(40)))
        assert all(len(s["offers"]) >= 2 for s in sets)
        jobs = []
        for n, offerset in enumerate(sets):
            hrefs = [o["href"] for o in offerset["offers"]]
            for i, href in enumerate(hrefs):
                # even sets: accept the first while the rest are rejected; odd sets: every offer accepted at once
                phase = "ACCEPTED" if n % 2 or i == 0 else "REJECTED"
                jobs.append(
                    (
                        n,
                        i,
                        pool.submit(change, href.replace(replicas[0].base_url, replicas[(n + i) % 2].base_url), phase),
                    )
                )
            jobs.append((n, -1, pool.submit(ask, n)))
        answers = [(n, i, job.result()) for n, i, job in jobs]
    statuses = [a.status_code if hasattr(a, "status_code") else 200 for _, _, a in answers]
    assert not [s for s in statuses if s >= 500]
    for n, i, answer in answers:
        if i < 0:
            continue
        if n % 2 == 0 and i == 0:
            assert answer.status_code == 200, answer.text  # nothing may refuse this accept
        elif answer.status_code == 409:
            assert "is REJECTED: it cannot be set to" in answer.text and "cannot go from" not in answer.text
    for n, offerset in enumerate(sets):
        phases = [requests.get(o["href"], timeout=30).json()["phase"] for o in offerset["offers"]]
        assert phases.count("ACCEPTED") == 1 and phases.count("REJECTED") == len(phases) - 1
        if n % 2 == 0:
            assert phases[0] == "ACCEPTED"
    audit(postgres_url_fresh, Catalogue.load(roomy_catalogue), datetime.now(UTC))

"""The concurrency attack of issue #16.4/#16.7 and #10.4 at test size: 100 clients for 10 s mixing asks, accepts,
rejects, cancels, direct requests and polls against two real replicas on one PostgreSQL database, and against one
SQLite server; afterwards, from the database: no 5xx, no accept refused while its offer was OFFERED, every phase
history legal, each offer expired once and on time, capacity never above quota (tests/capacity_audit.py).
The full-size run (400 clients, 60 s) is `tests/e2e/attack_driver.py` by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from attack_driver import check, run, summary
from capacity_audit import audit

from execplanner.catalogue import Catalogue, default_catalogue_path

pytestmark = [pytest.mark.slow, pytest.mark.alone]  # 100 clients: beside no other test (docs/testing.md)
# Each replica keeps at most 6 PostgreSQL connections: the server's 100 are shared by every suite running.
# Idle keep-alive connections stay open for the run, as in the 500-client test: at the default 5 s a request
# that reuses a connection the server is closing gets no answer (HTTP/1.1's keep-alive race, not a 5xx).
SETTINGS = {
    "EXECPLANNER_OFFER_EXPIRY_SECONDS": "3",
    "EXECPLANNER_DATABASE_CONNECTIONS": "6",
    "EXECPLANNER_KEEPALIVE_TIMEOUT_SECONDS": "60",
}


def _attack(servers: list, database: str, catalogue: Catalogue) -> None:
    load = run([s.base_url for s in servers], clients=100, seconds=10, warm_up=10)
    for server in servers:  # audited at rest: the audit's two reads are not one snapshot
        server.stop()
    audit(database, catalogue, datetime.now(UTC))  # never above quota at the end of the run, holds accounted for
    findings = check(database, load, grace_seconds=1.0)
    assert not findings.problems(), summary(load, findings)
    assert load.outcomes and not load.errors, summary(load, findings)
    assert findings.expiry_lags and findings.expiry_lags[-1] < 3.0, summary(load, findings)  # under load


def test_two_replicas_on_postgresql_under_100_clients(service_factory, postgres_url_fresh):
    tight = str(default_catalogue_path())  # the bundled quotas: capacity contended
    replicas = [service_factory(database=postgres_url_fresh, EXECPLANNER_CATALOGUE=tight, **SETTINGS) for _ in range(2)]
    _attack(replicas, postgres_url_fresh, Catalogue.load(default_catalogue_path()))


def test_one_sqlite_server_under_100_clients(service_factory, tmp_path, roomy_catalogue):
    server = service_factory(data_dir=tmp_path / "attack", **SETTINGS)  # roomy: thousands of offers to expire
    database = f"sqlite:///{tmp_path / 'attack' / 'execplanner.sqlite'}"
    _attack([server], database, Catalogue.load(roomy_catalogue))

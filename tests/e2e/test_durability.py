"""State survives a SIGKILL; offers expire on time; expiry and acceptance are exclusive."""

from __future__ import annotations

import json
import signal
from datetime import datetime
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOTEBOOK = json.loads((EXAMPLES / "requests" / "jupyter-notebook.json").read_text())
ACCEPT = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": "ACCEPTED"}}


# The SQLite case is the default database (execplanner.sqlite in the data directory), so one SIGKILL round covers
# both it and the file's place; an explicit sqlite:/// URL differs only in who writes the same URL
# (Settings.database_url). What is killed is a real process; what reads the state back is the same app started
# again in this process (create_app over the same database: store, migrations, lifespan), which is all a restart
# is and costs no second interpreter.
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_everything_survives_sigkill(http, service_factory, app_factory, request, backend, tmp_path):
    database = request.getfixturevalue("postgres_url_fresh") if backend == "postgresql" else None
    data_dir = tmp_path / "state"
    server = service_factory(database=database, data_dir=data_dir)
    first = http.post(server.url("/offersets"), json=NOTEBOOK).json()
    second = http.post(server.url("/offersets"), json=NOTEBOOK).json()
    accepted = http.post(first["offers"][0]["href"], json=ACCEPT).json()
    assert accepted["phase"] == "ACCEPTED"
    direct = http.post(server.url("/direct"), json=NOTEBOOK).json()

    server.stop(signal.SIGKILL)
    assert server.process.returncode == -signal.SIGKILL
    if backend == "sqlite":
        assert (data_dir / "execplanner.sqlite").exists()
    restarted = app_factory(database=database, data_dir=data_dir)
    restarted_url = restarted.base_url
    for document in (first, second):
        again = http.get(f"{restarted_url}/offersets/{document['uuid']}").json()
        assert again["uuid"] == document["uuid"]
        assert again["result"] == "YES"
        assert [o["uuid"] for o in again["offers"]] == [o["uuid"] for o in document["offers"]]
    phases = [http.get(f"{restarted_url}/sessions/{o['uuid']}").json()["phase"] for o in first["offers"]]
    assert phases[0] == "ACCEPTED" and set(phases[1:]) == {"REJECTED"}
    assert http.get(f"{restarted_url}/sessions/{direct['uuid']}").json()["phase"] == "ACCEPTED"
    assert http.get(f"{restarted_url}/sessions/{second['offers'][0]['uuid']}").json()["phase"] == "OFFERED"


@pytest.mark.alone  # a one-second bound: beside no other test (docs/testing.md)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_offers_expire_within_a_second(http, app_factory, request, backend, wait_for):
    database = request.getfixturevalue("postgres_url") if backend == "postgresql" else None
    # offers live 0.3 s: the bound is on lateness, not on the lifetime, which the test would only wait out
    server = app_factory(database=database, EXECPLANNER_OFFER_EXPIRY_SECONDS="0.3")
    document = http.post(server.url("/offersets"), json=NOTEBOOK).json()
    offer = document["offers"][0]
    expires = datetime.fromisoformat(offer["expires"])

    def expired():
        answer = http.get(offer["href"]).json()
        return answer if answer["phase"] == "EXPIRED" else None

    answer = wait_for(expired, timeout=5, interval=0.05)
    observed = datetime.now(expires.tzinfo)
    assert (observed - expires).total_seconds() < 1.0
    assert "options" not in answer
    late = http.post(offer["href"], json=ACCEPT)
    assert late.status_code == 409
    # each sibling expires in its own transaction of the same scheduler pass: all of them, within that pass
    wait_for(lambda: all(http.get(o["href"]).json()["phase"] == "EXPIRED" for o in document["offers"]), timeout=2)

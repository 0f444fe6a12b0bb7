"""The load test's checks (capacity_timeline.py, attack_driver.check) catch what they are there to catch: histories
written by hand into the two tables they read, on a site with room for two instances."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy
from attack_driver import Load, check
from capacity_timeline import Sampler, replay
from support.builders import flavor, one_site, quota

from execplanner.catalogue import Catalogue

START, END = "2030-01-01T09:00:00Z", "PT1H"
CATALOGUE = Catalogue(source="test", sites=[one_site("S", "v", [flavor("small", 1, 2)], site_quota=quota(instances=2))])


def _document(start: str = START) -> str:
    block = {"start": start, "duration": END}
    placement = {"site": "S", "vo": "v", "cores": 1, "memory_mib": 2048}
    return json.dumps({"placement": placement, "schedule": {"preparing": block, "releasing": block}})


@pytest.fixture
def database(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'history.sqlite'}"
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE sessions (uuid TEXT, offerset_uuid TEXT, phase TEXT, document TEXT, expires TIMESTAMP)"
        )
        conn.exec_driver_sql(
            "CREATE TABLE transitions (id INTEGER PRIMARY KEY, session_uuid TEXT, at TIMESTAMP DEFAULT"
            " CURRENT_TIMESTAMP, from_phase TEXT, to_phase TEXT)"
        )

    def write(*steps: tuple[str, str | None, str | None, str], start: str = START) -> None:
        """(session, offer set, from phase, to phase) in the order they happened; each session's row follows."""
        with engine.begin() as conn:
            for uuid, offerset, from_phase, to_phase in steps:
                if from_phase is None:
                    conn.execute(
                        sqlalchemy.text("INSERT INTO sessions VALUES (:u, :o, :p, :d, NULL)"),
                        {"u": uuid, "o": offerset, "p": to_phase, "d": _document(start)},
                    )
                conn.execute(
                    sqlalchemy.text("INSERT INTO transitions (session_uuid, from_phase, to_phase) VALUES (:u, :f, :t)"),
                    {"u": uuid, "f": from_phase, "t": to_phase},
                )
                moved = {"u": uuid, "t": to_phase}
                conn.execute(sqlalchemy.text("UPDATE sessions SET phase = :t WHERE uuid = :u"), moved)

    write.url = url  # type: ignore[attr-defined]
    yield write
    engine.dispose()


def test_three_holds_at_once_on_room_for_two_is_found(database):
    database(("a", None, None, "ACCEPTED"), ("b", None, None, "ACCEPTED"), ("c", None, None, "ACCEPTED"))
    checked, over = replay(database.url, CATALOGUE)
    assert checked == 3 and len(over) == 1 and "transition 3 (session c made)" in over[0] and "instances" in over[0]
    sample = Sampler(database.url, CATALOGUE)
    sample()
    sample.close()
    assert len(sample.over) == 1 and "instances: 0 + 3 > 2" in sample.over[0]


def test_room_given_back_before_the_booking_and_siblings_count_once(database):
    database(
        ("a", None, None, "ACCEPTED"),
        ("b1", "set", None, "OFFERED"),
        ("b2", "set", None, "OFFERED"),  # siblings: one instance between them
        ("a", None, "ACCEPTED", "CANCELLED"),
        ("c", None, None, "ACCEPTED"),
        ("b1", "set", "OFFERED", "ACCEPTED"),
        ("b2", "set", "OFFERED", "REJECTED"),
    )
    assert replay(database.url, CATALOGUE) == (4, [])  # without the cancel, c would be the third instance


def test_holds_at_different_times_do_not_add_up(database):
    database(("a", None, None, "ACCEPTED"), ("b", None, None, "ACCEPTED"))
    database(("c", None, None, "ACCEPTED"), start="2030-01-02T09:00:00Z")
    assert replay(database.url, CATALOGUE) == (3, [])


def test_two_takers_a_phase_twice_and_a_change_counted_twice_are_found(database):
    database(
        ("a1", "set", None, "OFFERED"),
        ("a2", "set", None, "OFFERED"),
        ("a1", "set", "OFFERED", "ACCEPTED"),
        ("a2", "set", "OFFERED", "ACCEPTED"),  # both offers of one set taken
        ("a1", "set", "ACCEPTED", "WAITING"),
        ("a1", "set", "WAITING", "WAITING"),  # the driver's step done twice (and illegal)
    )
    counted = Counter({"ACCEPTED": 2, "WAITING": 3})  # one WAITING counted that was not recorded
    findings = check(database.url, Load(sessions=["a1", "a2"], cancelled=["a2"]), counted=counted)
    assert findings.siblings == [("set", "2 accepted, 0 still OFFERED")]
    assert findings.repeated == [("a1", "WAITING")]
    assert ("a1", "WAITING", "WAITING") in findings.illegal
    assert findings.miscounted == {"WAITING": (3, 2)}
    assert findings.lost == [("a2", "cancelled, now ACCEPTED")]

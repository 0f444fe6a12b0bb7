"""The crash matrix: SIGKILL a real `execplanner serve` with sessions stopped at every lifecycle phase and at every
launch and teardown step, restart it on the same database against the same simulated federation, and check what
a user and an operator would: every acknowledged request is still there, each session goes on from where it
stood (a retried launch finds its server instead of making a second), nothing is left at any site once the
sessions end, and no session stays in a live phase past its schedule.

The federation runs in this process (a thread), apart from the service, so it outlives the SIGKILL. Launch steps
are stopped with the simulator's `pause` fault (docs/simcloud.md): the site has done the call, the service has
not heard back. One kill covers every stop of a round:

    OFFERED      an offer set asked for (303)
    ACCEPTED     an offer accepted (200) just before the kill (WAITING for a start an hour ahead)
    PREPARING    volumes created · server created · volume attached · floating IP allocated · floating IP
                 associated (each the answer of that call held) · the per-user application credential made at
                 accept time (the accept's own answer never came)
    AVAILABLE    launched and answering
    RUNNING      in its offered `available` block
    RELEASING    lease over, teardown stopped after the server delete
    CANCELLED    cancel acknowledged (200), cleanup stopped after the floating-IP delete

The planner's preparing blocks are minutes long, so the RUNNING and RELEASING sessions are written to the
database with short hand-made schedules (`support.crash.short_lease`), accepted as a client's accept would be.
One round per database runs in the suite; `EXECPLANNER_CRASH_ROUNDS=5` runs five (one service restart each).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import requests
import yaml
from support.crash import catalogue_for, leftovers, roomy_federation, servers_of, short_lease
from support.waiting import wait_for

from execplanner.catalogue import Catalogue
from execplanner.cloud.sealing import new_key
from execplanner.lifecycle.transitions import apply
from execplanner.model.phase import Phase
from execplanner.simcloud import SimFederation, entitlement
from execplanner.store import launches, records, tables
from execplanner.store.database import Store

ROUNDS = int(os.environ.get("EXECPLANNER_CRASH_ROUNDS", "1"))
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "requests"
SITE, VO = "IN2P3-IRES", "vo.access.egi.eu"
OPERATOR = f"urn:mace:egi.eu:group:{VO}:role=vm_operator#aai.egi.eu"
MEMBER = f"urn:mace:egi.eu:group:{VO}:role=member#aai.egi.eu"
JSON = {"Accept": "application/json", "Content-Type": "application/json"}
LIVE = ("READY", "AVAILABLE", "RUNNING")  # READY: the 2025 name of AVAILABLE
FINAL = {p.value for p in launches.FINAL}
RECOVERY = 60.0  # seconds a restarted service may take to bring every session where it belongs

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBv6l4Cw1T9jX1xkO8b5Tq4pZq9k9f5yHq2f0tKXvG2x test@example"
#: (stop, the call whose answer is held, what is asked: "storage" (volumes), "key" (a keypair too) or "web")
LAUNCH_STEPS = [
    ("volumes created", "volume.volumes.create", "storage"),
    ("server created", "compute.servers.create", "key"),
    ("volume attached", "compute.volume_attachments.create", "storage"),
    ("floating IP allocated", "network.floatingips.create", "web"),
    ("floating IP associated", "network.floatingips.update", "key"),
]


@dataclass
class Stop:
    """One session stopped somewhere when the service is killed, and what must become of it after the restart."""

    name: str
    url: str
    token: str | None
    after: tuple[str, ...]  # phases it must reach once restarted
    launched: bool = True  # has (or will have) exactly one server until it ends
    cleaned: bool = False  # its cleanup must finish (a final phase reached before the kill)
    found: dict[str, Any] = field(default_factory=dict)

    @property
    def uuid(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[1]


@dataclass
class World:
    http: requests.Session
    fed: SimFederation
    store: Store
    catalogue: Catalogue
    alice: str
    base: str = ""

    def headers(self, token: str | None) -> dict[str, str]:
        return {**JSON, **({"Authorization": f"Bearer {token}"} if token else {})}

    def url(self, path: str) -> str:
        return self.base + path

    def get(self, url: str, token: str | None) -> requests.Response:
        return self.http.get(url, headers=self.headers(token), timeout=10)

    def phase(self, stop: Stop) -> str:
        answer = self.get(self.url(stop.url), stop.token)
        assert answer.status_code == 200, f"{stop.name}: {answer.status_code} {answer.text[:300]}"
        found = answer.json()
        return str(found["offers"][0]["phase"] if "offers" in found else found["phase"])  # an offer set: its first

    def describe(self, stop: Stop) -> str:
        """The session's phase and messages, for a failure's text."""
        found = self.get(self.url(stop.url), stop.token).json()
        return f"{found.get('phase')}: " + " | ".join(m["message"] for m in found.get("messages", []))

    def direct(self, document: dict[str, Any], token: str | None) -> str:
        answer = self.http.post(
            self.url("/direct"), json=document, headers=self.headers(token), allow_redirects=False, timeout=30
        )
        assert answer.status_code == 303, answer.text
        return answer.headers["location"].replace(self.base, "")

    def update(self, path: str, phase: str, token: str | None) -> dict[str, Any]:
        update = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": phase}}
        answer = self.http.post(self.url(path), json=update, headers=self.headers(token), timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()


def _now() -> datetime:
    return datetime.now(UTC)


def _web(**changes: Any) -> dict[str, Any]:
    document = json.loads((EXAMPLES / "oligia-webtop.json").read_text())
    document.pop("schedule", None)  # start now
    document["vo"] = VO
    document.update(changes)
    return document


def _with_storage() -> dict[str, Any]:
    document = yaml.safe_load((EXAMPLES / "notebook-with-named-volumes.yaml").read_text())
    document.pop("schedule", None)
    document["vo"] = VO
    return document


def _accept_short_lease(world: World, available_in: float, seconds: float) -> str:
    """Write a session with a short schedule and accept it as a client's accept would (`lifecycle.apply`)."""
    session = short_lease(world.catalogue, SITE, VO, available_in, seconds)

    def work(conn: Any) -> None:
        records.insert_sessions(conn, [session], owners=[None])
        apply(conn, session.uuid, Phase.ACCEPTED, "accepted by the crash matrix", _now(), expect=Phase.INITIAL)

    world.store.run(work)
    return f"/sessions/{session.uuid}"


# ---------------------------------------------------------------------- placing a round's sessions
def _place_running_and_teardown(world: World) -> list[Stop]:
    """AVAILABLE, RUNNING, RELEASING (stopped after its server delete) and CANCELLED (stopped after its floating
    IP delete): launched side by side, no pause touches their launch."""
    faults = world.fed.faults
    releasing = faults.pause("*", "compute.servers.delete")
    available = Stop("AVAILABLE", world.direct(_web(), world.alice), world.alice, LIVE)
    cancelled = Stop(
        "CANCELLED (cleanup: floating IP deleted)", world.direct(_web(ssh_public_key=KEY), world.alice), world.alice, ()
    )
    running = Stop("RUNNING", _accept_short_lease(world, 1.0, 600.0), None, ("RUNNING",))
    ending = Stop("RELEASING (teardown: server deleted)", _accept_short_lease(world, 1.0, 1.5), None, ("COMPLETED",))
    for stop, phases in ((available, LIVE), (cancelled, LIVE), (running, ("RUNNING",))):
        wait_for(
            lambda s=stop, p=phases: world.phase(s) in p,
            30,
            what=f"{stop.name} before the kill",
            why=lambda s=stop: world.describe(s),
        )
    faults.wait_held(releasing.id, timeout=30)
    assert world.phase(ending) == "RELEASING"
    cleanup = faults.pause("*", "network.floatingips.delete")
    assert world.update(cancelled.url, "CANCELLED", world.alice)["phase"] == "CANCELLED"
    faults.wait_held(cleanup.id, timeout=30)
    cancelled.after, cancelled.cleaned, ending.cleaned = ("CANCELLED",), True, True
    return [available, running, ending, cancelled]


def _place_launch_steps(world: World) -> list[Stop]:
    """One session per launch step, each stopped with its call done and the answer held: in order, so each
    passes the steps before its own (their pauses have caught their one call already)."""
    stops = []
    documents = {"storage": _with_storage, "key": lambda: _web(ssh_public_key=KEY), "web": _web}
    for name, call, asked in LAUNCH_STEPS:
        rule = world.fed.faults.pause("*", call)
        url = world.direct(documents[asked](), world.alice)
        world.fed.faults.wait_held(rule.id, timeout=30)
        stops.append(Stop(f"PREPARING ({name})", url, world.alice, LIVE))
    return stops


def _place_credential_step(world: World) -> threading.Thread:
    """A direct request whose per-user application credential is made but whose answer (and so the 303) never
    comes: the request is not acknowledged, but what it made must not be left behind."""
    rule = world.fed.faults.pause("*", "identity.application_credentials.create")

    def ask() -> None:
        with contextlib.suppress(requests.RequestException):  # the service is killed while the request waits
            world.http.post(world.url("/direct"), json=_web(), headers=world.headers(world.alice), timeout=60)

    thread = threading.Thread(target=ask, daemon=True)
    thread.start()
    world.fed.faults.wait_held(rule.id, timeout=30)
    return thread


def _place_offered_and_accepted(world: World) -> list[Stop]:
    """An offer set (303) and, last before the kill, an accepted offer starting an hour from now (200)."""
    asked = world.http.post(world.url("/offersets"), json=_web(), headers=JSON, allow_redirects=False, timeout=30)
    assert asked.status_code == 303, asked.text
    offered = Stop("OFFERED", asked.headers["location"].replace(world.base, ""), None, ("OFFERED", "EXPIRED"), False)
    start = (_now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    later = _web(schedule={"requested": {"duration": "PT1H", "start": [f"{start}/PT1H"]}})
    asked = world.http.post(world.url("/offersets"), json=later, headers=JSON, allow_redirects=False, timeout=30)
    assert asked.status_code == 303, asked.text
    offers = world.get(asked.headers["location"], None).json()["offers"]
    path = f"/sessions/{offers[0]['uuid']}"
    assert world.update(path, "ACCEPTED", None)["phase"] == "ACCEPTED"
    accepted = Stop("ACCEPTED (starts in an hour)", path, None, ("ACCEPTED", "WAITING"), False)
    return [offered, accepted]


# ---------------------------------------------------------------------- after the restart
def _recovered(world: World, stops: list[Stop], started: float) -> None:
    """Every acknowledged request is readable, and each session gets where it belongs, with one server at most."""
    for stop in stops:
        world.phase(stop)  # 200, right after the restart
    for stop in stops:
        phase = wait_for(
            lambda s=stop: (p := world.phase(s)) in s.after and p,
            RECOVERY,
            what=f"{stop.name} after the restart",
            why=lambda s=stop: world.describe(s),
        )
        if stop.cleaned:
            wait_for(
                lambda s=stop: _record_cleaned(world, s.uuid),
                RECOVERY,
                what=f"{stop.name}: cleanup after the restart",
                why=lambda s=stop: world.describe(s),
            )
        stop.found = {
            "uuid": stop.uuid,
            "phase": phase,
            "servers": servers_of(world.fed, stop.uuid),
            "seconds": round(time.monotonic() - started, 1),
        }
        if stop.launched and not stop.cleaned:
            assert stop.found["servers"] == 1, f"{stop.name}: {stop.found['servers']} servers"
        if stop.cleaned:
            assert stop.found["servers"] == 0, f"{stop.name}: {stop.found['servers']} servers left"


def _record_cleaned(world: World, session: str) -> bool:
    with world.store.reading() as conn:
        record = launches.get(conn, UUID(session))
    return record is None or record.state == launches.CLEANED


def _live_sessions(world: World) -> list[tuple[str, str | None]]:
    """Every session the service still drives: (uuid, owner)."""
    s = tables.sessions
    with world.store.reading() as conn:
        rows = conn.execute(
            s.select().with_only_columns(s.c.uuid, s.c.owner).where(s.c.phase.in_([p.value for p in launches.DRIVEN]))
        ).all()
    return [(row.uuid, row.owner) for row in rows]


def _end_everything(world: World) -> None:
    """Cancel every live session (the unacknowledged one too), then wait until nothing is left at any site."""
    for uuid, owner in _live_sessions(world):
        world.update(f"/sessions/{uuid}", "CANCELLED", world.alice if owner else None)
    wait_for(lambda: not _live_sessions(world), RECOVERY, what="every session final")
    with world.store.reading() as conn:
        uncleaned = conn.execute(tables.launches.select().where(tables.launches.c.state != launches.CLEANED)).all()
    for row in uncleaned:
        wait_for(lambda u=row.session_uuid: _record_cleaned(world, u), RECOVERY, what=f"cleanup of {row.session_uuid}")
    wait_for(
        lambda: not leftovers(world.fed),
        RECOVERY,
        what="nothing left at the sites",
        why=lambda: _whose_leftovers(world),
    )


def _whose_leftovers(world: World) -> str:
    """What is left, with the history of the sessions it belongs to."""
    found = leftovers(world.fed)
    lines = []
    for uuid in sorted({text.split("execplanner-")[1][:36] for text in found if "execplanner-" in text}):
        stop = Stop(uuid, f"/sessions/{uuid}", world.alice, ())
        lines.append(f"{uuid}: {world.describe(stop)}")
    return "; ".join(found) + "\n" + "\n".join(lines)


def _nothing_stuck(world: World) -> list[str]:
    """Sessions still in a live phase after their schedule ended (releasing included)."""
    stuck = []
    s = tables.sessions
    with world.store.reading() as conn:
        for row in conn.execute(s.select().where(s.c.phase.in_([p.value for p in launches.DRIVEN]))):
            session = records.get_session(conn, UUID(row.uuid))
            schedule = session.schedule if session else None
            if schedule and schedule.releasing.start + schedule.releasing.duration < _now():
                stuck.append(f"{row.uuid} {row.phase}")
    return stuck


# ---------------------------------------------------------------------- the matrix
@pytest.fixture
def federation() -> Any:
    fed = SimFederation.start(spec=roomy_federation())
    try:
        yield fed
    finally:
        fed.faults.clear()
        fed.stop()


def test_sigkill_at_every_phase_and_launch_step_loses_nothing_and_leaks_nothing(
    service_factory: Any,
    database_url: str,
    federation: SimFederation,
    idp: Any,
    tmp_path: Path,
    http: requests.Session,
) -> None:
    idp.entitlements["alice"] = [MEMBER, OPERATOR]
    alice = idp.mint("alice", lifetime=3600)
    federation.add_token(alice, [entitlement(VO)], name="alice")
    key = tmp_path / "credential.key"
    key.write_text(new_key())
    catalogue = catalogue_for(federation, tmp_path / "catalogue.yaml")
    env = {
        "EXECPLANNER_CLOUD": "egi",
        "EXECPLANNER_CATALOGUE": str(catalogue),
        "EXECPLANNER_ROBOT_TOKEN": federation.demo_token,
        "EXECPLANNER_ISSUERS": idp.issuer,
        "EXECPLANNER_CREDENTIAL_KEY_FILE": str(key),
        "EXECPLANNER_CLAIM_SECONDS": "2",  # a killed replica's claims lapse quickly (default 30 s)
        "EXECPLANNER_RECONCILE_INTERVAL": "3",
        "EXECPLANNER_SCHEDULER_INTERVAL": "0.1",
        "EXECPLANNER_READY_TIMEOUT": "20",
        "EXECPLANNER_DATABASE_CONNECTIONS": "6",
    }
    data = tmp_path / "data"
    service = service_factory(database=database_url, data_dir=data, **env)
    store = Store.open(database_url, connections=3)
    world = World(http, federation, store, Catalogue.load(catalogue), alice, service.base_url)
    report: list[dict[str, Any]] = []
    try:
        for number in range(1, ROUNDS + 1):
            began = time.monotonic()
            stops = _place_running_and_teardown(world)
            stops += _place_launch_steps(world)
            asking = _place_credential_step(world)
            stops += _place_offered_and_accepted(world)

            assert service.stop(signal.SIGKILL) == -signal.SIGKILL
            federation.faults.clear()  # the held answers go to a dead process
            asking.join(timeout=30)
            started = time.monotonic()
            service = service_factory(database=database_url, data_dir=data, **env)
            world.base = service.base_url
            restarted = time.monotonic()

            _recovered(world, stops, started)
            recovered = time.monotonic()
            seconds = {"placing": started - began, "restart": restarted - started, "recovery": recovered - started}
            report.append({"round": number, "seconds": seconds, **{s.name: s.found for s in stops}})
            for name in seconds:
                seconds[name] = round(seconds[name], 1)
            assert _nothing_stuck(world) == []
            _end_everything(world)
            assert _nothing_stuck(world) == []
            seconds["ending"] = round(time.monotonic() - recovered, 1)
    finally:
        store.close()
        for line in report:
            print(json.dumps(line))

"""The fault matrix (issue 14, point 4): each simulator fault at each launch and teardown step, driven through the
real lifecycle driver and the real openstacksdk over HTTP, with the outcome the session must show and nothing of it
left at the site afterwards.

`MATRIX` is the single statement of what must happen; docs/faults.md carries the same table, generated from it
(`python tests/lifecycle/test_fault_matrix.py --write` rewrites it; `test_the_documented_matrix_is_this_one`
fails when the two differ). Each cell runs one session, per-user (an application credential made at accept time,
so its deletion is a step too), a web port behind a floating IP, and an ssh key (a keypair) or a storage volume
when its step needs one, on one federation per module (per xdist worker), with short deadlines, a short API
timeout and fast backoff. After every cell nothing of the session is left at the site: if the session's own
teardown left something, a reconciliation pass must remove it (and the cell says so).
"""

from __future__ import annotations

import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.builders import web_desktop_lease

from execplanner.catalogue import Catalogue, default_catalogue_path
from execplanner.cloud import launch as cloud
from execplanner.cloud import volumes as block
from execplanner.cloud.connection import OidcToken, SiteProject
from execplanner.cloud.connection import connect as cloud_connect
from execplanner.cloud.sealing import Sealer, new_key
from execplanner.lifecycle import peruser
from execplanner.lifecycle.credentials import CredentialSource, RobotCredentials
from execplanner.lifecycle.driver import Driver, DriverSettings
from execplanner.lifecycle.peruser import UserCredentials
from execplanner.lifecycle.transitions import apply
from execplanner.model.documents import (
    MinMax,
    Session,
    StorageResource,
)
from execplanner.model.phase import Phase
from execplanner.simcloud import SimFederation, entitlement
from execplanner.simcloud.default_catalogue import CANONICAL_SIM_URL, rebase
from execplanner.store import launches, records
from execplanner.store.database import Store

DOC = Path(__file__).resolve().parents[2] / "docs" / "faults.md"
SITE, VO = "IN2P3-IRES", "vo.access.egi.eu"
USER_TOKEN = "matrix-user-token"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBv6l4Cw1T9jX1xkO8b5Tq4pZq9k9f5yHq2f0tKXvG2x matrix@example"
API_TIMEOUT = 0.5  # seconds openstacksdk waits for an answer
HOLD = 1.2  # seconds a `timeout` fault holds a call: the client has given up long before
SLOW = 0.15  # seconds a `slow` fault holds a call: well under the client's timeout
SETTINGS = DriverSettings(
    replica="matrix",
    launch_timeout=3.0,
    ready_timeout=3.0,
    teardown_timeout=1.0,
    retries=3,
    retry_base=0.05,
    retry_max=0.2,
    workers=2,
    connections_idle_for=0.0,  # a teardown authenticates afresh, as one at the end of a real lease does
)

LAUNCH, TEARDOWN = "launch", "teardown"
# What the session must show. `moved on`: it went on to AVAILABLE (then the client cancelled it).
MOVED_ON, RETRIED, FAILED = "moved on", "retried, moved on", "FAILED"
PROBE_RETRIED = "probe retried, moved on"  # the readiness probe tries again by itself, within `ready_timeout`
PROBE_TIMEOUT = 2.5  # seconds a `timeout` fault holds the VM's answer: past the probe's own timeout (2 s)
CLEANUP_RETRIED, CLEANUP_WAITED = "cleanup retried", "cleanup retried until Keystone was back"
# A restricted application credential may not delete itself (Keystone): the cleanup says it is kept, and the
# owner's next call on the session deletes it with their own token; a fault there: deleted at a later call.
OWNER_DELETES = "kept, deleted at the owner's next call"
OWNER_RETRIED = "kept, deleted at a later call of the owner's"
KEPT = "was not deleted: Keystone does not let a restricted application credential delete itself"


@dataclass(frozen=True)
class Step:
    name: str
    stage: str  # launch | teardown
    call: str | None  # the simulator call its faults hit (a glob); None: execplanner makes no call of its own
    needs: str = ""  # what the session must have for the step to happen: "volume", "key" (else neither: faster)


@dataclass(frozen=True)
class Fault:
    name: str
    kind: str
    status: int | None = None
    seconds: float = 0.0
    times: int | None = 1  # None: until the test clears it
    message: str | None = None
    injection: str = ""  # how to inject it in `execplanner sim` (docs)


@dataclass(frozen=True)
class Expect:
    """A cell's documented outcome: what the session says and ends as, and how it was cleaned."""

    outcome: str  # MOVED_ON | RETRIED | FAILED | CLEANUP_RETRIED | CLEANUP_WAITED (| MOVED_ON for teardown)
    phase: Phase  # the phase it ends in
    text: str = ""  # words of the cloud's that the session's messages must contain
    call: str | None = None  # the call to inject at, when not the step's own (e.g. BUILD for ever: the create)
    times: int | None = -1  # -1: the fault's own
    seconds: float | None = None  # the hold, when not the fault's own
    message: str | None = None  # the cloud's message for this cell, when not the fault's default
    restore: bool = False  # the fault lasts until cleared (Keystone down): the test brings the service back
    reconciled: bool = False  # something was left that only the reconciliation pass removed


@dataclass(frozen=True)
class Omitted:
    reason: str


STEPS = [
    Step("Keystone authentication", LAUNCH, "identity.auth.*"),
    Step("keypair", LAUNCH, "compute.keypairs.create", "key"),
    Step("security group", LAUNCH, "network.security_groups.create"),
    Step("volume create", LAUNCH, "volume.volumes.create", "volume"),
    Step("server create", LAUNCH, "compute.servers.create"),
    Step("server ACTIVE wait", LAUNCH, "compute.servers.get"),
    Step("volume attach", LAUNCH, "compute.volume_attachments.create", "volume"),
    Step("floating IP allocate", LAUNCH, "network.floatingips.create"),
    Step("floating IP associate", LAUNCH, "network.floatingips.update"),
    Step("readiness probe", LAUNCH, "vm.http"),
    Step("Keystone authentication (teardown)", TEARDOWN, "identity.auth.*"),
    Step("server delete", TEARDOWN, "compute.servers.delete"),
    Step("floating IP release", TEARDOWN, "network.floatingips.delete"),
    Step("volume detach", TEARDOWN, None),
    Step("volume delete", TEARDOWN, "volume.volumes.delete", "volume"),
    Step("security group delete", TEARDOWN, "network.security_groups.delete"),
    Step("keypair delete", TEARDOWN, "compute.keypairs.delete", "key"),
    Step("application credential delete", TEARDOWN, "identity.application_credentials.delete"),
]

FAULTS = [
    Fault("5xx", "error", status=500, times=2, injection='`{"kind": "error", "status": 500, "times": 2}`'),
    Fault("timeout", "timeout", seconds=HOLD, injection=f'`{{"kind": "timeout", "seconds": {HOLD}}}`'),
    Fault(
        "slow", "slow", seconds=SLOW, times=None, injection=f'`{{"kind": "slow", "seconds": {SLOW}, "times": null}}`'
    ),
    Fault("quota exceeded", "quota", times=None, injection='`{"kind": "quota", "times": null}`'),
    Fault(
        "BUILD for ever",
        "stuck",
        times=None,
        injection='`{"kind": "stuck"}` on the server create or delete, or on `vm.http`',
    ),
    Fault("ERROR", "server_error", injection='`{"kind": "server_error"}` on the create (or delete)'),
    Fault("no floating IP", "pool_empty", times=None, injection='`{"kind": "pool_empty", "times": null}`'),
    Fault(
        "Keystone down",
        "error",
        status=503,
        times=None,
        message="Keystone is unavailable",
        injection='`{"call": "identity.*", "kind": "error", "status": 503, "times": null}`',
    ),
]

NO_CALL = {
    "volume detach": "execplanner makes no detach call: deleting the server detaches its volumes, and the volume "
    "delete waits for that",
}
ONLY_CREATES = "only a create is checked against a quota"
ONLY_SERVERS = "only a server boots (and only a server delete is asynchronous in Nova)"
ONLY_FIP = "only allocating a floating IP draws from the pool"
KEYSTONE_ONCE = (
    "a launch or teardown authenticates once, at its start; later calls carry the token, which the simulated "
    "services check without Keystone (see the Keystone authentication rows)"
)
KEYSTONE_DOWN = f"authenticating at {SITE}: Keystone is unavailable (HTTP 503)"
QUOTA_TEXT = {
    "keypair": ("Quota exceeded, too many key pairs.", "403 Quota exceeded, too many key pairs."),
    "security group": (
        "Quota exceeded for resources: ['security_group'].",
        "409 Quota exceeded for resources: ['security_group'].",
    ),
    "volume create": (None, "413 VolumeSizeExceedsAvailableQuota"),
    "server create": (None, "403 Quota exceeded for instances"),
    "floating IP allocate": (None, "409 Quota exceeded for resources: ['floatingip']."),
}


def _transient(fault: Fault, step: Step) -> Expect:
    text = {"5xx": "Simulated fault: Internal Server Error", "timeout": "timed out"}.get(fault.name, "")
    if step.name == "application credential delete":
        return Expect(OWNER_DELETES if fault.name == "slow" else OWNER_RETRIED, Phase.CANCELLED, KEPT)
    if step.name == "readiness probe":  # the VM's own service: an error page, an answer past the probe's timeout
        seconds = PROBE_TIMEOUT if fault.name == "timeout" else None
        return Expect(MOVED_ON if fault.name == "slow" else PROBE_RETRIED, Phase.CANCELLED, seconds=seconds)
    if step.stage == TEARDOWN:
        return Expect(MOVED_ON if fault.name == "slow" else CLEANUP_RETRIED, Phase.CANCELLED, text)
    return Expect(MOVED_ON if fault.name == "slow" else RETRIED, Phase.CANCELLED, text)


def expectation(fault: Fault, step: Step) -> Expect | Omitted:
    """The documented outcome of `fault` at `step` (the matrix, cell by cell)."""
    if step.call is None:
        return Omitted(NO_CALL[step.name])
    if fault.name in ("5xx", "timeout", "slow"):
        return _transient(fault, step)
    if fault.name == "quota exceeded":
        if step.name not in QUOTA_TEXT:
            return Omitted(ONLY_CREATES)
        message, text = QUOTA_TEXT[step.name]
        return Expect(FAILED, Phase.FAILED, text, message=message)
    if fault.name == "no floating IP":
        if step.name != "floating IP allocate":
            return Omitted(ONLY_FIP)
        return Expect(FAILED, Phase.FAILED, "409 No more IP addresses available on network.")
    if fault.name == "Keystone down":
        if step.name == "Keystone authentication":
            return Expect(FAILED, Phase.FAILED, KEYSTONE_DOWN, call="identity.*", restore=True)
        if step.name == "Keystone authentication (teardown)":
            return Expect(CLEANUP_WAITED, Phase.CANCELLED, KEYSTONE_DOWN, call="identity.*", restore=True)
        return Omitted(KEYSTONE_ONCE)
    return _server_faults(fault, step)


def _server_faults(fault: Fault, step: Step) -> Expect | Omitted:
    """BUILD for ever and ERROR: what a server (or a volume) does after the call that made it was answered."""
    build = fault.name == "BUILD for ever"
    if step.name == "server ACTIVE wait":
        text = "the server was still BUILD when its deadline passed" if build else "the server went to ERROR: No valid"
        return Expect(FAILED, Phase.FAILED, text, call="compute.servers.create")
    if step.name == "server delete":
        text = "was still there when the teardown deadline passed" if build else "went to ERROR instead of going away"
        return Expect(CLEANUP_RETRIED, Phase.CANCELLED, text, times=1)
    if step.name == "volume create" and not build:
        return Expect(FAILED, Phase.FAILED, "went to error")
    if step.name == "server create":
        return Omitted("Nova answers the create before the server boots: see the server ACTIVE wait row")
    if step.name == "readiness probe" and build:  # ACTIVE, but what it runs never answers
        return Expect(FAILED, Phase.FAILED, "the VM is ACTIVE but port 3000 did not answer within 3 s")
    if step.name == "readiness probe":
        return Omitted("a server in ERROR never reaches the probe: see the server ACTIVE wait row")
    if step.name == "volume create":
        return Omitted("Cinder will not delete a volume stuck in `creating` (an operator's reset-state); not simulated")
    return Omitted(ONLY_SERVERS)


def cells() -> list[tuple[Fault, Step, Expect]]:
    found = []
    for step in STEPS:
        for fault in FAULTS:
            expect = expectation(fault, step)
            if isinstance(expect, Expect):
                found.append((fault, step, expect))
    return found


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


# ---------------------------------------------------------------------- the table in docs/faults.md
def _short(expect: Expect | Omitted) -> str:
    if isinstance(expect, Omitted):
        return "—"
    if expect.outcome == FAILED:
        return FAILED
    short = {
        CLEANUP_RETRIED: "retried",
        CLEANUP_WAITED: "retried until back",
        PROBE_RETRIED: "probe retried, moved on",
        OWNER_DELETES: "kept; owner's token",
        OWNER_RETRIED: "kept; owner's token, retried",
    }.get(expect.outcome, expect.outcome)
    return f"{short} → {expect.phase.value}" + (" (reconciled)" if expect.reconciled else "")


def render() -> str:
    """The matrix as markdown: an overview, each cell's message and cleanup, and why the missing cells are."""
    lines = ["| step | " + " | ".join(f.name for f in FAULTS) + " |", "|---" * (len(FAULTS) + 1) + "|"]
    for step in STEPS:
        row = [_short(expectation(fault, step)) for fault in FAULTS]
        lines.append(f"| {step.stage}: {step.name} | " + " | ".join(row) + " |")
    lines += ["", "| fault | step | injected at | outcome | the session's messages contain | cleanup |"]
    lines += ["|---" * 6 + "|"]
    for fault, step, expect in cells():
        call = expect.call or step.call
        cleanup = "reconciliation pass" if expect.reconciled else "the session's own teardown"
        text = f"`{expect.text}`" if expect.text else "(no retry, no warning)"
        outcome = f"{expect.outcome} → {expect.phase.value}"
        lines.append(f"| {fault.name} | {step.name} | `{call}` | {outcome} | {text} | {cleanup}: nothing left |")
    lines += ["", "| cells left out | why |", "|---|---|"]
    reasons: dict[str, dict[str, list[str]]] = {}  # reason → fault → steps
    for step in STEPS:
        for fault in FAULTS:
            omitted = expectation(fault, step)
            if isinstance(omitted, Omitted):
                reasons.setdefault(omitted.reason, {}).setdefault(fault.name, []).append(step.name)
    for reason, where in reasons.items():
        cells_out = "; ".join(f"{fault} × {', '.join(steps)}" for fault, steps in where.items())
        lines.append(f"| {cells_out} | {reason} |")
    lines += ["", "| fault | rule (`POST /_sim/faults`, or a site's `faults:` in a federation file) |", "|---|---|"]
    lines += [f"| {fault.name} | {fault.injection} |" for fault in FAULTS]
    return "\n".join(lines) + "\n"


START, END = "<!-- fault-matrix: generated by tests/lifecycle/test_fault_matrix.py -->", "<!-- /fault-matrix -->"


def documented() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index(START) + len(START) : text.index(END)].strip("\n") + "\n"


def write_doc() -> None:
    text = DOC.read_text(encoding="utf-8")
    head, tail = text[: text.index(START) + len(START)], text[text.index(END) :]
    DOC.write_text(head + "\n" + render() + tail, encoding="utf-8")


def test_the_documented_matrix_is_this_one() -> None:
    assert documented() == render(), "docs/faults.md is stale: python tests/lifecycle/test_fault_matrix.py --write"


# ---------------------------------------------------------------------- one federation and driver per module
@dataclass
class Rig:
    fed: SimFederation
    store: Store
    catalogue: Catalogue
    driver: Driver
    users: UserCredentials


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    fed = SimFederation.start()
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'matrix.sqlite'}")
    catalogue = rebase(Catalogue.load(default_catalogue_path()), CANONICAL_SIM_URL, fed.base_url)
    fed.add_token(USER_TOKEN, [entitlement(VO)], name="matrix-user")
    sealer = Sealer(new_key().encode())
    users = UserCredentials(store, lambda: catalogue, sealer, timedelta(hours=1))
    token = fed.demo_token
    credentials = CredentialSource(RobotCredentials({"*": lambda: token}), sealer.unseal)

    def connect(target: SiteProject, credential: Any, timeout: float) -> Any:
        return cloud_connect(target, credential, API_TIMEOUT)

    driver = Driver(store, lambda: catalogue, credentials, SETTINGS, connect=connect)
    try:
        yield Rig(fed, store, catalogue, driver, users)
    finally:
        driver.stop()
        store.close()
        fed.stop()


def _session(catalogue: Catalogue, needs: str) -> Session:
    storage = [StorageResource(name="scratch", size=MinMax(min=1))] if needs == "volume" else None
    return web_desktop_lease(catalogue, SITE, VO, datetime.now(UTC), 1, 600, KEY if needs == "key" else None, storage)


def _read(store: Store, session: uuid.UUID) -> tuple[Session, launches.LaunchRecord | None]:
    with store.reading() as conn:
        found, record = records.get_session(conn, session), launches.get(conn, session)
    assert found is not None
    return found, record


def _messages(session: Session) -> str:
    return " | ".join(m.message for m in session.messages)


def _drive(rig: Rig, session: uuid.UUID, done: Callable[[Session, Any], bool], timeout: float = 20) -> Session:
    """Driver passes, as the scheduler loop runs them, until `done(session, launch record)` with the driver idle."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rig.driver.run_pass()
        current, record = _read(rig.store, session)
        if done(current, record) and rig.driver.idle():
            return current
        time.sleep(0.02)
    current, _ = _read(rig.store, session)
    raise AssertionError(f"session still {current.phase.value}: {_messages(current)}")


def _drained(fed: SimFederation, timeout: float = 10) -> None:
    """Wait until no call is held by a fault any more: whatever a late call creates exists by then."""
    deadline = time.monotonic() + timeout
    while fed.faults.held() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert fed.faults.held() == 0


def leftovers(fed: SimFederation, session: uuid.UUID) -> list[str]:
    """Everything of the session at the site: servers, floating IPs, volumes, groups, keypairs, credentials."""
    name = f"execplanner-{session}"
    site = fed.federation.sites[SITE]
    with site.lock:
        left = [f"server {s.id}" for s in site.servers.values() if s.name == name]
        left += [f"floating IP {f.address}" for f in site.floating_ips.values() if str(session) in f.description]
        left += [f"volume {v.name}" for v in site.volumes.values() if v.name.startswith(name)]
        left += [f"security group {g.id}" for g in site.security_groups.values() if g.name == name]
        left += [f"keypair {k.name}" for k in site.keypairs.values() if k.name == name]
        left += [f"application credential {a.id}" for a in site.app_credentials.values() if a.name == name]
    return left


def _inject(fed: SimFederation, fault: Fault, step: Step, expect: Expect) -> None:
    fed.faults.inject(
        SITE,
        expect.call or step.call or "",
        fault.kind,  # type: ignore[arg-type]
        status=fault.status,
        seconds=fault.seconds if expect.seconds is None else expect.seconds,
        times=fault.times if expect.times == -1 else expect.times,
        message=expect.message or fault.message,
    )


def _accepted(rig: Rig, needs: str) -> Session:
    session = _session(rig.catalogue, needs)

    def work(conn: Any) -> None:
        records.insert_sessions(conn, [session], owners=[None])
        apply(conn, session.uuid, Phase.ACCEPTED, "accepted by test", datetime.now(UTC), expect=Phase.INITIAL)

    rig.store.run(work)
    rig.users.accepted(session, USER_TOKEN, "matrix-user")
    return session


def _cancel(rig: Rig, session: uuid.UUID) -> None:
    rig.store.run(lambda conn: apply(conn, session, Phase.CANCELLED, "client asked", datetime.now(UTC)))


LIVE = (Phase.AVAILABLE, Phase.RUNNING)


def _cleaned(session: Session, record: Any) -> bool:
    return record is not None and record.state == launches.CLEANED


def _retrying(session: Session, record: Any) -> bool:
    return "cleanup failed, retrying" in _messages(session)


def _owner_deletes_the_credential(rig: Rig, session: Session) -> None:
    """What the owner's next calls on the session do (a read, a cancel): delete the credential Keystone would not
    let delete itself, with their own token; a call that fails leaves it to the next one."""
    for _ in range(5):
        if peruser.pending(rig.store, session.uuid) is not peruser.Pending.LEFT:
            return
        peruser.delete_with_owner_token(rig.store, rig.catalogue, session, USER_TOKEN, rig.users.connect)
    assert peruser.pending(rig.store, session.uuid) is peruser.Pending.NONE


def run_cell(rig: Rig, fault: Fault, step: Step, expect: Expect) -> tuple[Session, bool]:
    """One session through the fault; returns it, cleaned, and whether reconciliation had to remove something."""
    fed = rig.fed
    fed.faults.clear()
    session = _accepted(rig, step.needs)
    if step.stage == LAUNCH:
        _inject(fed, fault, step, expect)
    reached = _drive(rig, session.uuid, lambda s, r: s.phase in (*LIVE, Phase.FAILED))
    if step.stage == TEARDOWN:
        assert reached.phase in LIVE, _messages(reached)
        _inject(fed, fault, step, expect)
    if reached.phase is not Phase.FAILED:
        _drained(fed)
        _cancel(rig, session.uuid)
    if expect.restore:  # the service is down until its operator brings it back: the cleanup waits for that
        _drive(rig, session.uuid, lambda s, r: _retrying(s, r) or s.phase is Phase.FAILED)
        fed.faults.clear()
    done = _drive(rig, session.uuid, _cleaned)
    _owner_deletes_the_credential(rig, done)
    fed.faults.clear()
    _drained(fed)
    reconciled = False
    if leftovers(fed, session.uuid):
        assert session.uuid in rig.driver.reconcile()
        reconciled = True
    assert leftovers(fed, session.uuid) == []
    return done, reconciled


@pytest.mark.parametrize(
    ("fault", "step", "expect"),
    [pytest.param(*cell, id=f"{_slug(cell[0].name)}@{_slug(cell[1].name)}") for cell in cells()],
)
def test_fault_at_step(rig: Rig, fault: Fault, step: Step, expect: Expect) -> None:
    done, reconciled = run_cell(rig, fault, step, expect)
    messages = _messages(done)
    assert done.phase is expect.phase, messages
    assert expect.text in messages, messages
    retried = "trying again in" in messages or "cleanup failed, retrying" in messages
    if expect.outcome in (MOVED_ON, RETRIED, CLEANUP_RETRIED, CLEANUP_WAITED):  # FAILED may have retried first
        assert retried is (expect.outcome != MOVED_ON), messages
    if expect.outcome == PROBE_RETRIED:
        assert not retried, messages  # the probe tried again within the launch: no warning, no second launch
    if expect.outcome in (OWNER_DELETES, OWNER_RETRIED):
        assert "deleted with your token" in _messages(_read(rig.store, done.uuid)[0])
    if expect.outcome == FAILED:
        assert any(m.level.value == "ERROR" and expect.text in m.message for m in done.messages), messages
    assert reconciled is expect.reconciled


# ---------------------------------------------------------------------- what the cells found, pinned down
def _robot(rig: Rig, timeout: float = 10.0) -> Any:
    site = rig.fed.site(SITE)
    target = SiteProject(SITE, site.auth_url, site.vos[VO])
    return cloud_connect(target, OidcToken(rig.fed.demo_token), timeout)


def test_teardown_deletes_every_server_and_group_a_late_create_made(rig: Rig) -> None:
    """A create the client gave up on (a timeout) that the cloud carried out after all, beside the retry's: two
    servers and two groups of one session. The teardown used to delete the first of each and leave the other."""
    conn, session = _robot(rig), uuid.uuid4()
    site_vo = rig.catalogue.site(SITE).vo(VO)  # type: ignore[union-attr]
    spec = cloud.LaunchSpec(
        session,
        site_vo.flavor("m1.small").id,  # type: ignore[union-attr]
        site_vo.image("ubuntu-22.04-docker").id,  # type: ignore[union-attr]
        site_vo.attach_network().id,  # type: ignore[union-attr]
        "#cloud-config\n",
    )
    for _ in range(2):
        group = conn.network.create_security_group(name=f"execplanner-{session}")
        conn.compute.create_server(
            name=f"execplanner-{session}",
            flavor_id=spec.flavor_id,
            image_id=spec.image_id,
            networks=[{"uuid": spec.network_id}],
            security_groups=[{"name": group.name}],
            metadata={"execplanner-session": str(session)},
        )
    assert len(leftovers(rig.fed, session)) == 4
    deleted = cloud.teardown(conn, session, time.monotonic() + 10)
    assert len(deleted) == 4 and leftovers(rig.fed, session) == []


def test_an_attach_refused_because_a_late_attach_landed_is_done(rig: Rig) -> None:
    """The timeout × volume attach cell, made deterministic: the retry saw the volume `available`, then the attach
    the client had given up on landed, and the retry's own attach was refused (400, in-use): that failed the
    session. The attach is held while the earlier one lands."""
    rig.fed.faults.clear()
    conn, session = _robot(rig), uuid.uuid4()
    site_vo = rig.catalogue.site(SITE).vo(VO)  # type: ignore[union-attr]
    (volume_id,) = block.ensure_volumes(conn, session, [block.VolumeSpec(1, "/data")], time.monotonic() + 10)
    server = conn.compute.create_server(
        name=f"execplanner-{session}",
        flavor_id=site_vo.flavor("m1.small").id,  # type: ignore[union-attr]
        image_id=site_vo.image("ubuntu-22.04-docker").id,  # type: ignore[union-attr]
        networks=[{"uuid": site_vo.attach_network().id}],  # type: ignore[union-attr]
    )
    cloud.wait_active(conn, server.id, time.monotonic() + 10)
    rig.fed.faults.inject(SITE, "compute.volume_attachments.create", "slow", seconds=3.0, times=1)

    def earlier_attach_lands() -> None:
        deadline = time.monotonic() + 10
        while not rig.fed.faults.held() and time.monotonic() < deadline:
            time.sleep(0.01)
        _robot(rig).compute.create_volume_attachment(server.id, volume_id)

    landing = threading.Thread(target=earlier_attach_lands)
    landing.start()
    try:
        block.attach_volumes(conn, server.id, [volume_id], time.monotonic() + 10)
    finally:
        landing.join()
    assert conn.block_storage.get_volume(volume_id).status == "in-use"
    cloud.teardown(conn, session, time.monotonic() + 10)
    assert leftovers(rig.fed, session) == []


def test_a_late_object_of_a_cleaned_session_is_removed_by_reconciliation(rig: Rig) -> None:
    """Reconciliation skipped every finished session with a launch record ("its own cleanup runs"), even once that
    cleanup had ended: a floating IP whose create the cloud carried out after the session was cleaned stayed."""
    rig.fed.faults.clear()
    session = _accepted(rig, "")
    _drive(rig, session.uuid, lambda s, r: s.phase in LIVE)
    _cancel(rig, session.uuid)
    _owner_deletes_the_credential(rig, _drive(rig, session.uuid, _cleaned))
    conn = _robot(rig)
    external = next(conn.network.networks(name="ext-net")).id
    conn.network.create_ip(floating_network_id=external, description=f"execplanner session {session.uuid}")
    assert leftovers(rig.fed, session.uuid) != []
    assert session.uuid in rig.driver.reconcile()
    assert leftovers(rig.fed, session.uuid) == []


if __name__ == "__main__":
    if "--write" in sys.argv:
        write_doc()
    else:
        sys.stdout.write(render())

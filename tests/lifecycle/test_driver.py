"""The lifecycle driver against a real store and the simulated federation through the real openstacksdk:
sessions with short, hand-made schedules, so a whole lease fits in a test."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import keystoneauth1.exceptions.http
import pytest
import requests
from support.builders import web_desktop_lease

from execplanner.catalogue import Catalogue, default_catalogue_path
from execplanner.cloud import launch as cloud
from execplanner.cloud.connection import ApplicationCredential, OidcToken, SiteProject, connect
from execplanner.cloud.sealing import Sealer, new_key
from execplanner.cloud.userdata import render
from execplanner.lifecycle import peruser
from execplanner.lifecycle.credentials import CredentialSource, RobotCredentials
from execplanner.lifecycle.driver import Driver, DriverSettings
from execplanner.lifecycle.peruser import UserCredentials, delete_with_owner_token
from execplanner.lifecycle.transitions import apply
from execplanner.model.documents import (
    ScheduleBlock,
    Session,
)
from execplanner.model.phase import Phase
from execplanner.simcloud import SimFederation, entitlement
from execplanner.simcloud.default_catalogue import CANONICAL_SIM_URL, rebase
from execplanner.store import launches, records
from execplanner.store.database import Store

SITE, VO = "IN2P3-IRES", "vo.access.egi.eu"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBv6l4Cw1T9jX1xkO8b5Tq4pZq9k9f5yHq2f0tKXvG2x test@example"


@pytest.fixture
def catalogue(simcloud_fresh: SimFederation) -> Catalogue:
    return rebase(Catalogue.load(default_catalogue_path()), CANONICAL_SIM_URL, simcloud_fresh.base_url)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store.open(f"sqlite:///{tmp_path / 'driver.sqlite'}")
    yield opened
    opened.close()


def _driver(store: Store, catalogue: Catalogue, fed: SimFederation, **options: object) -> Driver:
    token = fed.demo_token
    settings = DriverSettings(replica="test", launch_timeout=20, ready_timeout=10, teardown_timeout=10, **options)  # type: ignore[arg-type]
    return Driver(store, lambda: catalogue, CredentialSource(RobotCredentials({"*": lambda: token})), settings)


def _session(catalogue: Catalogue, start: datetime, seconds: float, ssh: bool = False) -> Session:
    return web_desktop_lease(catalogue, SITE, VO, start, 1, seconds, KEY if ssh else None)


def _accept(store: Store, session: Session) -> None:
    def work(conn):  # type: ignore[no-untyped-def]
        records.insert_sessions(conn, [session], owners=[None])
        apply(conn, session.uuid, Phase.ACCEPTED, "accepted by test", datetime.now(UTC), expect=Phase.INITIAL)

    store.run(work)


def _read(store: Store, session: uuid.UUID) -> Session:
    with store.reading() as conn:
        found = records.get_session(conn, session)
    assert found is not None
    return found


def _drive_until(
    driver: Driver, store: Store, session: uuid.UUID, done: Callable[[Session], bool], timeout: float = 30
) -> Session:
    """Run driver passes (as the scheduler loop does) until the session satisfies `done`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        driver.run_pass()
        current = _read(store, session)
        if done(current) and driver.idle():
            return current
        time.sleep(0.05)
    raise AssertionError(
        f"session still {_read(store, session).phase.value}: {[m.message for m in _read(store, session).messages]}"
    )


def _messages(session: Session) -> str:
    return " | ".join(m.message for m in session.messages)


def test_a_whole_lease_from_accept_to_completed_leaves_nothing(
    store: Store,
    catalogue: Catalogue,
    simcloud_fresh: SimFederation,
) -> None:
    driver = _driver(store, catalogue, simcloud_fresh)
    session = _session(catalogue, datetime.now(UTC), seconds=3, ssh=True)
    _accept(store, session)
    running = _drive_until(driver, store, session.uuid, lambda s: s.phase in (Phase.AVAILABLE, Phase.RUNNING))
    url = running.executable.ports[0].addresses[0]
    assert url.startswith("http://127.") and url.endswith(":3000/")
    assert requests.get(url, timeout=5).status_code == 200
    assert any(a.protocol == "ssh" and a.locations[0].startswith("ssh ubuntu@127.") for a in running.executable.access)

    done = _drive_until(driver, store, session.uuid, lambda s: s.phase is Phase.COMPLETED)
    assert "cleanup: deleted server" in _messages(done)
    state = simcloud_fresh.state(SITE)
    assert state.servers == [] and state.floating_ips == [] and state.keypairs == []
    with store.reading() as conn:
        history = [t.to_phase for t in records.history(conn, session.uuid)]
    assert history[1:] == [
        Phase.ACCEPTED,
        Phase.PREPARING,
        Phase.AVAILABLE,
        Phase.RUNNING,
        Phase.RELEASING,
        Phase.COMPLETED,
    ]


def test_a_session_starting_later_waits_then_launches(
    store: Store,
    catalogue: Catalogue,
    simcloud_fresh: SimFederation,
) -> None:
    driver = _driver(store, catalogue, simcloud_fresh)
    session = _session(catalogue, datetime.now(UTC) + timedelta(seconds=2), seconds=60)
    _accept(store, session)
    waiting = _drive_until(driver, store, session.uuid, lambda s: s.phase is Phase.WAITING)
    assert simcloud_fresh.state(SITE).servers == []
    assert "WAITING: waiting until" in _messages(waiting)
    _drive_until(driver, store, session.uuid, lambda s: s.phase in (Phase.AVAILABLE, Phase.RUNNING))


def test_boot_error_fails_with_novas_message_and_cleans_up(
    store: Store,
    catalogue: Catalogue,
    simcloud_fresh: SimFederation,
) -> None:
    simcloud_fresh.faults.inject(SITE, "compute.servers.create", "server_error", message="hypervisor on fire")
    driver = _driver(store, catalogue, simcloud_fresh)
    session = _session(catalogue, datetime.now(UTC), seconds=60)
    _accept(store, session)
    failed = _drive_until(driver, store, session.uuid, lambda s: s.phase is Phase.FAILED)
    assert "the server went to ERROR: hypervisor on fire" in _messages(failed)
    assert simcloud_fresh.state(SITE).servers == []


def test_no_floating_ip_left_fails_with_a_clear_reason(
    store: Store,
    catalogue: Catalogue,
    simcloud_fresh: SimFederation,
) -> None:
    simcloud_fresh.faults.inject(SITE, "network.floatingips.create", "pool_empty", times=None)
    driver = _driver(store, catalogue, simcloud_fresh)
    session = _session(catalogue, datetime.now(UTC), seconds=60)
    _accept(store, session)
    failed = _drive_until(driver, store, session.uuid, lambda s: s.phase is Phase.FAILED)
    assert "attaching a floating IP: 409 No more IP addresses available" in _messages(failed)
    assert simcloud_fresh.state(SITE).servers == []


def test_transient_errors_are_retried_with_backoff(
    store: Store,
    catalogue: Catalogue,
    simcloud_fresh: SimFederation,
) -> None:
    simcloud_fresh.faults.inject(SITE, "compute.servers.create", "error", status=503, times=2)
    driver = _driver(store, catalogue, simcloud_fresh, retry_base=0.1)
    session = _session(catalogue, datetime.now(UTC), seconds=60)
    _accept(store, session)
    ready = _drive_until(driver, store, session.uuid, lambda s: s.phase in (Phase.AVAILABLE, Phase.RUNNING))
    assert _messages(ready).count("trying again in") == 2
    assert len(simcloud_fresh.state(SITE).servers) == 1


def test_cancel_while_preparing_cleans_up(
    store: Store,
    catalogue: Catalogue,
    simcloud_fresh: SimFederation,
) -> None:
    simcloud_fresh.set_boot_delay(SITE, 2.0)
    driver = _driver(store, catalogue, simcloud_fresh)
    session = _session(catalogue, datetime.now(UTC), seconds=60)
    _accept(store, session)
    _drive_until(driver, store, session.uuid, lambda s: "created; waiting for it to boot" in _messages(s), 20)
    store.run(lambda conn: apply(conn, session.uuid, Phase.CANCELLED, "client asked", datetime.now(UTC)))
    cancelled = _drive_until(driver, store, session.uuid, lambda s: "cleanup:" in _messages(s))
    assert cancelled.phase is Phase.CANCELLED
    assert simcloud_fresh.state(SITE).servers == [] and simcloud_fresh.state(SITE).floating_ips == []


def test_a_retried_launch_finds_its_server_and_reconcile_deletes_orphans(
    store: Store,
    catalogue: Catalogue,
    simcloud_fresh: SimFederation,
) -> None:
    site = simcloud_fresh.site(SITE)
    conn = connect(SiteProject(SITE, site.auth_url, site.vos[VO]), OidcToken(simcloud_fresh.demo_token))
    driver = _driver(store, catalogue, simcloud_fresh)
    session = _session(catalogue, datetime.now(UTC), seconds=60)
    _accept(store, session)
    # a crash after the server was created: the driver had recorded its token, then made a group and a server
    with store.transaction() as db:
        record = launches.ensure(db, session.uuid, SITE, VO, datetime.now(UTC))
        record.token = "token-before-the-crash"
        launches.save(db, record, datetime.now(UTC))
    site_vo = catalogue.site(SITE).vo(VO)  # type: ignore[union-attr]
    spec = cloud.LaunchSpec(
        session.uuid,
        session.placement.flavor_id,  # type: ignore[union-attr]
        site_vo.image("ubuntu-22.04-docker").id,  # type: ignore[union-attr]
        site_vo.attach_network().id,  # type: ignore[union-attr]
        render(session, str(session.uuid), "token-before-the-crash").text,
    )
    group = cloud.ensure_security_group(conn, session.uuid, ())  # crashed before adding its rules
    first = cloud.ensure_server(conn, spec, group.name, None)
    _drive_until(driver, store, session.uuid, lambda s: s.phase in (Phase.AVAILABLE, Phase.RUNNING))
    assert [s.id for s in simcloud_fresh.state(SITE).servers] == [first.id]

    orphan = uuid.uuid4()  # a session this service never heard of, left at a site it launched at
    cloud.ensure_security_group(conn, orphan, (80,))
    assert driver.reconcile() == [orphan]
    with store.reading() as db:
        assert launches.get(db, session.uuid) is not None
    assert {s for s in cloud.sessions_present(conn)} == {session.uuid}


def _per_user(
    store: Store,
    catalogue: Catalogue,
    fed: SimFederation,
    lifetime: timedelta = timedelta(hours=1),
    robot: RobotCredentials | None = None,
) -> tuple[Driver, UserCredentials, Sealer]:
    """A service with a credential key (application credentials kept `lifetime` past the lease) and `robot`, if
    any; Alice's Check-in token is one the site knows."""
    fed.add_token("alice-token", [entitlement(VO)], name="alice")
    sealer = Sealer(new_key().encode())
    users = UserCredentials(store, lambda: catalogue, sealer, lifetime)
    settings = DriverSettings(replica="test", launch_timeout=20, ready_timeout=10, teardown_timeout=10)
    driver = Driver(store, lambda: catalogue, CredentialSource(robot or RobotCredentials(), sealer.unseal), settings)
    return driver, users, sealer


def _releasing_in_a_second(session: Session) -> Session:
    """The session with its releasing block one second long, so its credential's expiry comes soon after."""
    schedule = session.schedule
    assert schedule is not None
    releasing = ScheduleBlock(start=schedule.releasing.start, duration=timedelta(seconds=1))
    return session.model_copy(update={"schedule": schedule.model_copy(update={"releasing": releasing})})


def test_per_user_application_credential_launches_sealed_and_is_deleted_at_the_end(
    store: Store,
    catalogue: Catalogue,
    simcloud_fresh: SimFederation,
) -> None:
    driver, users, sealer = _per_user(store, catalogue, simcloud_fresh)
    session = _session(catalogue, datetime.now(UTC), seconds=60)
    _accept(store, session)
    users.accepted(session, "alice-token", "alice@issuer")
    (credential,) = simcloud_fresh.state(SITE).app_credentials
    with store.reading() as conn:
        record = launches.get(conn, session.uuid)
        raw = conn.exec_driver_sql("SELECT credential_sealed FROM launches").scalar_one()
    assert record is not None and record.credential_id == credential.id
    secret = sealer.unseal(raw)
    assert secret and secret not in raw  # only the sealed form is stored
    _drive_until(driver, store, session.uuid, lambda s: s.phase in (Phase.AVAILABLE, Phase.RUNNING))
    with store.reading() as conn:
        assert "application credential" in (launches.get(conn, session.uuid).identity or "")  # type: ignore[union-attr]

    store.run(lambda conn: apply(conn, session.uuid, Phase.CANCELLED, "client asked", datetime.now(UTC)))
    done = _drive_until(driver, store, session.uuid, lambda s: "cleanup:" in _messages(s))
    # Keystone will not let a restricted credential delete itself: it stays, and the session says until when
    assert simcloud_fresh.state(SITE).servers == []
    assert [c.id for c in simcloud_fresh.state(SITE).app_credentials] == [credential.id]
    assert f"application credential {credential.id} was not deleted" in _messages(done)
    assert record.credential_expires is not None and record.credential_expires.isoformat() in _messages(done)
    with store.reading() as conn:
        assert conn.exec_driver_sql("SELECT credential_sealed FROM launches").scalar_one() is None
    assert peruser.pending(store, session.uuid) is peruser.Pending.LEFT

    # its owner's own token deletes it
    assert peruser.delete_with_owner_token(store, catalogue, done, "alice-token")
    assert simcloud_fresh.state(SITE).app_credentials == []
    assert f"application credential {credential.id} deleted with your token" in _messages(_read(store, session.uuid))
    assert peruser.pending(store, session.uuid) is peruser.Pending.NONE


def test_a_kept_user_credential_expires_shortly_after_the_lease_and_is_unusable_then(
    store: Store,
    catalogue: Catalogue,
    simcloud_fresh: SimFederation,
) -> None:
    driver, users, sealer = _per_user(store, catalogue, simcloud_fresh, lifetime=timedelta(seconds=1))
    start = datetime.now(UTC) + timedelta(seconds=2)  # cancelled while it waits: cleanup runs at once
    session = _releasing_in_a_second(_session(catalogue, start, seconds=3))
    _accept(store, session)
    users.accepted(session, "alice-token", "alice@issuer")
    with store.reading() as conn:
        record = launches.get(conn, session.uuid)
    lease_end = start + timedelta(seconds=1 + 3 + 1)
    assert record is not None and record.credential_expires is not None
    assert lease_end < record.credential_expires <= lease_end + timedelta(seconds=2)  # lease end + margin (1 s)
    secret = sealer.unseal(record.credential_sealed or "")
    store.run(lambda conn: apply(conn, session.uuid, Phase.CANCELLED, "client asked", datetime.now(UTC)))
    done = _drive_until(driver, store, session.uuid, lambda s: "cleanup:" in _messages(s))
    assert "was not deleted" in _messages(done)
    assert [c.id for c in simcloud_fresh.state(SITE).app_credentials] == [record.credential_id]

    site = simcloud_fresh.site(SITE)
    while datetime.now(UTC) < record.credential_expires:  # the clock, not a synchronisation
        time.sleep(0.1)
    expired = ApplicationCredential(record.credential_id or "", secret)
    with pytest.raises(keystoneauth1.exceptions.http.Unauthorized):  # Keystone: 401 once it has expired
        list(connect(SiteProject(SITE, site.auth_url, site.vos[VO]), expired).compute.servers())


def test_a_revoked_user_credential_fails_the_session_with_a_reason(
    store: Store,
    catalogue: Catalogue,
    simcloud_fresh: SimFederation,
) -> None:
    driver, users, _ = _per_user(store, catalogue, simcloud_fresh)
    session = _session(catalogue, datetime.now(UTC), seconds=60)
    _accept(store, session)
    users.accepted(session, "alice-token", "alice@issuer")
    (credential,) = simcloud_fresh.state(SITE).app_credentials
    site = simcloud_fresh.site(SITE)
    alice = connect(SiteProject(SITE, site.auth_url, site.vos[VO]), OidcToken("alice-token"))
    alice.identity.delete_application_credential(alice.current_user_id, credential.id)  # revoked by its owner
    failed = _drive_until(driver, store, session.uuid, lambda s: s.phase is Phase.FAILED)
    assert "401" in _messages(failed) or "uthenticat" in _messages(failed)
    assert simcloud_fresh.state(SITE).servers == []


def test_without_a_key_per_user_launch_is_off_and_says_so(
    store: Store,
    catalogue: Catalogue,
    simcloud_fresh: SimFederation,
) -> None:
    users = UserCredentials(store, lambda: catalogue, None, timedelta(hours=1))
    session = _session(catalogue, datetime.now(UTC), seconds=60)
    _accept(store, session)
    users.accepted(session, "some-token", "bob@issuer")
    assert "per-user launch is off" in _messages(_read(store, session.uuid))
    assert simcloud_fresh.state(SITE).app_credentials == []


def test_two_replicas_launch_a_session_once(
    store: Store,
    catalogue: Catalogue,
    simcloud_fresh: SimFederation,
) -> None:
    token = simcloud_fresh.demo_token
    credentials = CredentialSource(RobotCredentials({"*": lambda: token}))
    replicas = [
        Driver(store, lambda: catalogue, credentials, DriverSettings(replica=name, launch_timeout=20, ready_timeout=10))
        for name in ("replica-a", "replica-b")
    ]
    sessions = [_session(catalogue, datetime.now(UTC), seconds=60) for _ in range(3)]
    for session in sessions:
        _accept(store, session)
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        for replica in replicas:
            replica.run_pass()
        phases = {_read(store, s.uuid).phase for s in sessions}
        if phases <= {Phase.AVAILABLE, Phase.RUNNING} and all(r.idle() for r in replicas):
            break
        time.sleep(0.05)
    servers = simcloud_fresh.state(SITE).servers
    assert sorted(s.name for s in servers) == sorted(f"execplanner-{s.uuid}" for s in sessions)
    for session in sessions:
        assert _messages(_read(store, session.uuid)).count("PREPARING:") == 1


def test_an_expired_user_token_leaves_no_credential_and_the_robot_launches(
    store: Store,
    catalogue: Catalogue,
    simcloud_fresh: SimFederation,
) -> None:
    """The caller's Check-in token had expired by the accept: no application credential of theirs; the session
    says so, and the VO's robot launches it (its `launch` field says robot)."""
    simcloud_fresh.add_token("late-token", [entitlement(VO)], expired=True, name="late")
    sealer = Sealer(new_key().encode())
    users = UserCredentials(store, lambda: catalogue, sealer, timedelta(minutes=15))
    token = simcloud_fresh.demo_token
    robot = RobotCredentials({VO: lambda: token}, names={VO: "robot of the test"})
    settings = DriverSettings(replica="test", launch_timeout=20, ready_timeout=10, teardown_timeout=10)
    driver = Driver(store, lambda: catalogue, CredentialSource(robot, sealer.unseal), settings)
    session = _session(catalogue, datetime.now(UTC), seconds=60)
    _accept(store, session)
    users.accepted(session, "late-token", "late@issuer")
    assert simcloud_fresh.state(SITE).app_credentials == []
    assert "the operator's robot credential will be used" in _messages(_read(store, session.uuid))
    live = _drive_until(driver, store, session.uuid, lambda s: s.phase in (Phase.AVAILABLE, Phase.RUNNING))
    assert live.launch is not None and live.launch.mode.value == "robot"
    assert live.launch.identity == "robot of the test" and live.launch.credential == "oidc-access-token"
    store.run(lambda conn: apply(conn, session.uuid, Phase.CANCELLED, "client asked", datetime.now(UTC)))
    _drive_until(driver, store, session.uuid, lambda s: "cleanup:" in _messages(s))
    assert simcloud_fresh.state(SITE).servers == []


def test_a_user_credential_that_expired_before_teardown_leaves_the_cleanup_to_the_robot(
    store: Store,
    catalogue: Catalogue,
    simcloud_fresh: SimFederation,
) -> None:
    """Keystone refuses an expired application credential: the VO's robot deletes what the session left."""
    token = simcloud_fresh.demo_token
    robot = RobotCredentials({VO: lambda: token})
    driver, users, _ = _per_user(store, catalogue, simcloud_fresh, lifetime=timedelta(seconds=1), robot=robot)
    session = _releasing_in_a_second(_session(catalogue, datetime.now(UTC), seconds=10))
    _accept(store, session)
    users.accepted(session, "alice-token", "alice@issuer")
    with store.reading() as conn:
        expires = launches.get(conn, session.uuid).credential_expires  # type: ignore[union-attr]
    assert expires is not None
    _drive_until(driver, store, session.uuid, lambda s: s.phase is not Phase.ACCEPTED)
    while datetime.now(UTC) < expires:  # the clock, not a synchronisation: let the credential expire
        driver.run_pass()
        time.sleep(0.1)
    done = _drive_until(driver, store, session.uuid, lambda s: s.phase in launches.FINAL and "cleanup:" in _messages(s))
    # without the robot taking over, every teardown attempt after the expiry would be a 401 and this never ends
    assert simcloud_fresh.state(SITE).servers == [] and simcloud_fresh.state(SITE).floating_ips == []
    assert done.phase in (Phase.COMPLETED, Phase.FAILED)


def _robot_and_user(store: Store, catalogue: Catalogue, fed: SimFederation) -> tuple[Driver, UserCredentials]:
    """A service with a robot credential and a credential key: what the crash matrix runs."""
    token = fed.demo_token
    driver, users, _ = _per_user(store, catalogue, fed, robot=RobotCredentials({"*": lambda: token}))
    return driver, users


def test_a_driver_pass_that_read_the_record_before_the_credential_was_saved_does_not_forget_it(
    store: Store,
    catalogue: Catalogue,
    simcloud_fresh: SimFederation,
) -> None:
    """Found by the crash matrix: a pass claimed the just-accepted session, the accept then saved the caller's
    credential, and the pass wrote its older copy of the record back — the credential outlived the session."""
    driver, users = _robot_and_user(store, catalogue, simcloud_fresh)
    session = _session(catalogue, datetime.now(UTC), seconds=60)
    _accept(store, session)
    with store.transaction() as db:
        before = launches.ensure(db, session.uuid, SITE, VO, datetime.now(UTC))  # the pass reads the record...
    users.accepted(session, "alice-token", "alice@issuer")  # ...the accept saves the credential...
    before.attempts, before.identity = 1, "robot account of the VO"
    with store.transaction() as db:
        launches.save(db, before, datetime.now(UTC))  # ...the pass writes back what it learnt
    store.run(lambda conn: apply(conn, session.uuid, Phase.CANCELLED, "client asked", datetime.now(UTC)))
    done = _drive_until(driver, store, session.uuid, lambda s: "cleanup:" in _messages(s))
    assert "application credential" in _messages(done)
    # Keystone does not let the restricted credential delete itself: the session must still know it, so that its
    # owner's next call deletes it (a forgotten one stays at the site until it expires)
    assert delete_with_owner_token(store, catalogue, done, "alice-token")
    assert simcloud_fresh.state(SITE).app_credentials == []


def test_a_credential_made_by_an_accept_that_never_heard_back_is_deleted_with_the_session(
    store: Store,
    catalogue: Catalogue,
    simcloud_fresh: SimFederation,
) -> None:
    """Found by the crash matrix: the service was killed while the accept made the caller's credential; the site
    made it, the service never learnt its id, and it was left at the site until it expired."""
    driver, users = _robot_and_user(store, catalogue, simcloud_fresh)
    session = _session(catalogue, datetime.now(UTC), seconds=60)
    _accept(store, session)
    made = simcloud_fresh.faults.pause(SITE, "identity.application_credentials.create")
    accepting = threading.Thread(target=users.accepted, args=(session, "alice-token", "alice@issuer"), daemon=True)
    accepting.start()
    simcloud_fresh.faults.wait_held(made.id, timeout=20)  # made at the site; its answer never reaches the service
    assert len(simcloud_fresh.state(SITE).app_credentials) == 1

    _drive_until(driver, store, session.uuid, lambda s: s.phase in (Phase.AVAILABLE, Phase.RUNNING))  # as robot
    store.run(lambda conn: apply(conn, session.uuid, Phase.CANCELLED, "client asked", datetime.now(UTC)))
    done = _drive_until(driver, store, session.uuid, lambda s: "cleanup:" in _messages(s))
    assert simcloud_fresh.state(SITE).app_credentials == [], _messages(done)
    simcloud_fresh.faults.release(made.id)
    accepting.join(timeout=20)

"""The lifecycle driver: takes accepted sessions to a running VM and back to nothing.

ACCEPTED → WAITING (until the offered start) → PREPARING (launch) → AVAILABLE (ACTIVE and answering) → RUNNING
(from the offered `available` start) → RELEASING (at its end) → COMPLETED, everything deleted. A cloud error
makes the session FAILED with the cloud's words and the same cleanup; a client's CANCEL is cleaned up the same
way. Every phase change goes through `transitions.apply` (holds follow phases there), every step adds a message.

Replicas share the work through the database: a session is driven by whoever claims its launch record (a
conditional UPDATE with an expiry). A launch retried after a crash finds the session's objects by name first.
"""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from execplanner import metrics
from execplanner.catalogue.model import Catalogue
from execplanner.cloud import appcred, polling, volumes
from execplanner.cloud import launch as cloud
from execplanner.cloud.access import with_access
from execplanner.cloud.connection import Connections, Credential, OidcToken, SiteProject, authenticate, connect
from execplanner.cloud.probe import targets, wait_ready
from execplanner.cloud.userdata import Service, UserData, render, storage_mounts
from execplanner.errors import CloudError, ExecPlannerError, IllegalTransition, TransientCloudError
from execplanner.lifecycle import peruser
from execplanner.lifecycle.credentials import CredentialSource, launch_identity
from execplanner.lifecycle.transitions import apply
from execplanner.logs import FailureStreak
from execplanner.model.documents import Session
from execplanner.model.message import Level, Message
from execplanner.model.phase import Phase
from execplanner.store import launches, records
from execplanner.store.database import Store
from execplanner.store.launches import LaunchRecord

log = logging.getLogger("execplanner.driver")

P = Phase
Connect = Callable[[SiteProject, Any, float], Any]


@dataclass(frozen=True)
class DriverSettings:
    replica: str
    launch_timeout: float = 600.0
    ready_timeout: float = 300.0
    teardown_timeout: float = 300.0
    poll_max: float = polling.MAX_PAUSE  # s between looks at a server or volume being built, at most
    claim_seconds: float = 900.0
    retries: int = 5
    retry_base: float = 1.0
    retry_max: float = 60.0
    workers: int = 64  # launches at once: I/O-bound threads, each holding a database connection only briefly
    connections_idle_for: float = 600.0  # s an authenticated connection waits for reuse; 0: each drive authenticates
    plan_only: bool = False  # --cloud none: say so in each accepted session, launch nothing


#: How long the driver waits for an accepting request to make the session's own application credential.
CREDENTIAL_WAIT = timedelta(seconds=60)


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite hands back naive UTC


class Driver:
    """Drives sessions; `run_pass()` is called by the scheduler loop, the work happens in a thread pool."""

    def __init__(
        self,
        store: Store,
        catalogue: Callable[[], Catalogue],
        credentials: CredentialSource,
        settings: DriverSettings,
        connect: Connect = connect,
    ) -> None:
        self.store = store
        self.catalogue = catalogue
        self.credentials = credentials
        self.settings = settings
        self._connect = connect
        # authenticated once per credential, not once per launch or cleanup
        self._connections = Connections(connect, idle_for=settings.connections_idle_for)
        workers = 1 if settings.plan_only else settings.workers
        self._pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="launch")
        self._busy: set[UUID] = set()
        self._renewed: datetime | None = None  # when `renew` last extended this replica's claims
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the pass
    def run_pass(self, now: datetime | None = None) -> int:
        """Claim every session with something to do (in one transaction: a burst of accepts is not claimed one
        write at a time, each queueing behind the launches' own writes) and hand each to a worker; returns how
        many were started."""
        now = now or _now()
        with self.store.reading() as conn:
            due = launches.work(conn, now)
        with self._lock:
            due = [uuid for uuid in due if uuid not in self._busy]
        if not due:
            return 0
        until = now + timedelta(seconds=self.settings.claim_seconds)
        claimed = self.store.run(lambda conn: launches.claim_all(conn, due, self.settings.replica, until, now))
        for uuid in claimed:
            with self._lock:
                self._busy.add(uuid)
            if self.settings.plan_only:
                self._drive(uuid)  # one message each: no worker threads, no extra database connections
            else:
                self._pool.submit(self._drive, uuid)
        return len(claimed)

    def renew(self, now: datetime | None = None) -> None:
        """Extend this replica's claims on the sessions it is working on (a crashed replica's lapse instead): once
        a tenth of a claim's length has passed since the last renewal, not at every pass (a write each time, which
        a burst's launches queued behind), so a claim always has nine tenths of its length left."""
        now = now or _now()
        every = timedelta(seconds=self.settings.claim_seconds / 10)
        with self._lock:
            busy = set(self._busy)
            if not busy or (self._renewed is not None and now - self._renewed < every):
                return
            self._renewed = now
        with self.store.transaction() as conn:
            launches.renew(conn, busy, self.settings.replica, now + timedelta(seconds=self.settings.claim_seconds))

    def idle(self) -> bool:
        with self._lock:
            return not self._busy

    def stop(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _drive(self, uuid: UUID) -> None:
        try:
            for _ in range(8):  # ACCEPTED → PREPARING → AVAILABLE → RUNNING... in one claim when due
                if not self._step(uuid):
                    break
        except Exception:  # noqa: BLE001 — a worker must never die silently; the next pass retries
            log.exception("driver_step_failed session=%s", uuid)
        finally:
            self._connections.give_back()
            with self.store.transaction() as conn:
                launches.unclaim(conn, uuid, self.settings.replica)
            with self._lock:
                self._busy.discard(uuid)

    # ------------------------------------------------------------------ one step
    def _step(self, uuid: UUID) -> bool:
        """Do what the session's phase calls for; True if its phase changed (so look again)."""
        with self.store.reading() as conn:
            session = records.get_session(conn, uuid)
            record = launches.get(conn, uuid)
        if session is None or record is None:
            return False
        if session.phase in launches.FINAL:
            self._cleanup(session, record)
            return False
        if self.settings.plan_only:
            return self._note_plan_only(session, record)
        if session.phase in (P.ACCEPTED, P.WAITING, P.PREPARING):
            return self._before_running(session, record, _now())
        return self._while_running(session, record, _now())

    def _before_running(self, session: Session, record: LaunchRecord, now: datetime) -> bool:
        """ACCEPTED, WAITING, PREPARING: wait for the offered start, then launch; too late is a failure."""
        uuid, phase, schedule = session.uuid, session.phase, session.schedule
        if schedule is None or session.placement is None:
            return self._fail(session, record, "the session has no offered schedule or placement")
        if now >= schedule.available.start + schedule.available.duration:
            return self._fail(session, record, "the offered time passed before the session could start")
        if phase is P.PREPARING:
            return self._prepare(session, record)
        if self._awaiting_user_credential(uuid, record, now):
            return False
        if now < schedule.preparing.start:
            if phase is P.ACCEPTED:
                return self._move(uuid, phase, P.WAITING, f"waiting until {schedule.preparing.start.isoformat()}")
            return False
        return self._move(uuid, phase, P.PREPARING, f"launching at {session.placement.site}")

    def _awaiting_user_credential(self, uuid: UUID, record: LaunchRecord, now: datetime) -> bool:
        """Per-user mode: the accepting request is making the session's own credential right now (it records the
        outcome either way); launching before it would take the robot's credential, or none. Wait a little."""
        if self.credentials.unseal is None or record.identity or record.credential_id:
            return False
        with self.store.reading() as conn:
            if records.owner_of_session(conn, uuid) is None:
                return False
            accepted = [t.at for t in records.history(conn, uuid) if t.to_phase is P.ACCEPTED]
        if not accepted or now - _aware(accepted[-1]) > CREDENTIAL_WAIT:
            return False
        record.next_attempt = now + timedelta(seconds=0.5)
        with self.store.transaction() as db:
            launches.save(db, record, now)
        return True

    def _while_running(self, session: Session, record: LaunchRecord, now: datetime) -> bool:
        """AVAILABLE, RUNNING, RELEASING: follow the offered blocks, then release everything."""
        uuid, phase, schedule = session.uuid, session.phase, session.schedule
        if schedule is None:
            return False
        if phase in (P.AVAILABLE, P.RUNNING) and now >= schedule.available.start + schedule.available.duration:
            return self._move(uuid, phase, P.RELEASING, "the offered time is over")
        if phase is P.AVAILABLE and now >= schedule.available.start:
            return self._move(uuid, phase, P.RUNNING, "the offered time has begun")
        if phase is P.RELEASING and self._cleanup(session, record):
            return self._move(uuid, phase, P.COMPLETED, "released: everything deleted")
        return False

    def _note_plan_only(self, session: Session, record: LaunchRecord) -> bool:
        """Once per session: nothing will run, because this service was started with `--cloud none`."""
        record.state = launches.CLEANED
        end = session.schedule.releasing.start if session.schedule else _now()
        record.next_attempt = max(end, _now()) + timedelta(days=1)
        with self.store.transaction() as db:
            launches.save(db, record, _now())
            records.add_message(
                db,
                session.uuid,
                Message.warn("this service plans only (started with --cloud none): nothing will be launched"),
            )
        return False

    def _move(self, uuid: UUID, phase: Phase, to: Phase, reason: str, level: str = "info") -> bool:
        self._moved(uuid, phase, to, reason, level)
        return True  # moved, or someone else (a client's cancel) moved it: look again

    def _moved(self, uuid: UUID, phase: Phase, to: Phase, reason: str, level: str = "info") -> bool:
        """Whether this call made the change (False: someone else moved the session first)."""
        try:
            with self.store.transaction() as conn:
                apply(conn, uuid, to, reason, _now(), expect=phase)
                records.add_message(conn, uuid, Message.of(Level[level.upper()], f"{to.value}: {reason}"))
        except IllegalTransition:
            return False
        return True

    def _message(self, uuid: UUID, text: str, level: str = "info") -> None:
        """Add a step's message; a session the client cancelled meanwhile stops the launch here."""
        with self.store.transaction() as conn:
            records.add_message(conn, uuid, Message.of(Level[level.upper()], text))
            phase = launches.phases_of(conn, {uuid}).get(uuid)  # its phase only, not the whole document
        if phase is not None and phase in launches.FINAL:
            raise CloudError(f"the session became {phase.value} while launching")

    def _note(self, uuid: UUID, text: str) -> None:
        """A warning during cleanup: unlike `_message`, never an error for a session that is over (it is, then)."""
        with self.store.transaction() as conn:
            records.add_message(conn, uuid, Message.warn(text))

    # ------------------------------------------------------------------ cloud work
    def _target(self, session: Session) -> tuple[SiteProject, Any]:
        placement = session.placement
        assert placement is not None
        site = self.catalogue().site(placement.site)
        site_vo = site.vo(placement.vo) if site else None
        if site is None or site_vo is None:
            raise CloudError(f"{placement.site} ({placement.vo}) is no longer in the catalogue")
        return SiteProject(placement.site, site.endpoint, placement.project_id or site_vo.project_id), site_vo

    def _connection(self, target: SiteProject, record: LaunchRecord) -> Any:
        return self._connect_as(target, record)[0]

    def _connect_as(self, target: SiteProject, record: LaunchRecord) -> tuple[Any, Credential]:
        credential, identity = self.credentials.credential(record, target)
        if record.identity != identity:
            record.identity = identity
        # a reused connection's token is still good, and a new one takes the token its credential already has:
        # no call to Keystone
        conn = self._connections.lease(target, credential, 30.0, lambda c: authenticate(c, target.site))
        return conn, credential

    def _prepare(self, session: Session, record: LaunchRecord) -> bool:
        uuid = session.uuid
        record.attempts += 1
        record.token = record.token or secrets.token_urlsafe(24)
        try:
            target, site_vo = self._target(session)
            conn, credential = self._connect_as(target, record)
            with self.store.transaction() as db:
                launches.save(db, record, _now())
                records.add_message(db, uuid, Message.info(f"launching as {record.identity}"))
                owner = records.owner_of_session(db, uuid)
                launches.set_launch(db, uuid, launch_identity(record, target, credential, owner))
            launched, services = self._launch(session, record, conn, site_vo)
        except TransientCloudError as exc:
            return self._retry_or_fail(session, record, exc)
        except ExecPlannerError as exc:
            return self._fail(session, record, exc.message)
        ssh = bool(session.ssh_public_key)
        executable = with_access(session.executable, launched.address or "", services, ssh)
        with self.store.transaction() as db:
            launches.set_executable(db, uuid, executable)
        moved = self._moved(uuid, P.PREPARING, P.AVAILABLE, f"ready at {launched.address}")
        _count_launch(session, "available" if moved else "cancelled")
        return True

    def _volumes(self, conn: Any, session: Session, deadline: float) -> list[tuple[str, str]]:
        """The session's storage as volumes, made before the server: (volume id, mount path) each."""
        mounts = storage_mounts(session)
        if not mounts:
            return []
        specs = [volumes.VolumeSpec(gib, path) for gib, path in mounts]
        ids = volumes.ensure_volumes(conn, session.uuid, specs, deadline, self.settings.poll_max)
        self._message(session.uuid, "volumes ready: " + ", ".join(f"{gib} GiB for {path}" for gib, path in mounts))
        return list(zip(ids, [path for _, path in mounts], strict=True))

    def _spec(self, session: Session, site_vo: Any, userdata: UserData, volume_ids: list[str]) -> cloud.LaunchSpec:
        placement = session.placement
        assert placement is not None
        public, attach = site_vo.public_network(), site_vo.attach_network()
        access = placement.public_access or (public.access.value if public and public.access else None)
        return cloud.LaunchSpec(
            session=session.uuid,
            flavor_id=placement.flavor_id,
            image_id=placement.image_id or "",
            network_id=attach.id if attach else placement.network_id,
            user_data=userdata.text,
            ports=tuple(s.port for s in userdata.services),
            public_key=session.ssh_public_key,
            public_network_id=public.id if public else None,
            public_access=access,
            volume_ids=tuple(volume_ids),
        )

    def _launch(self, session: Session, record: LaunchRecord, conn: Any, site_vo: Any) -> tuple[Any, list[Service]]:
        deadline = time.monotonic() + self.settings.launch_timeout
        mounted = self._volumes(conn, session, deadline)
        userdata = render(session, str(session.uuid), record.token or "", mounted)
        spec = self._spec(session, site_vo, userdata, [volume_id for volume_id, _ in mounted])
        step = lambda text: self._message(session.uuid, text)  # noqa: E731
        launched = cloud.launch(conn, spec, deadline, step, self.settings.poll_max)
        record.state, record.server_id, record.address = "launched", launched.server_id, launched.address
        record.objects = {"server": launched.server_id, "floating_ip": launched.floating_ip_id}
        with self.store.transaction() as db:
            launches.save(db, record, _now())
        wanted = targets(userdata.services, bool(session.ssh_public_key))
        silent = wait_ready(launched.address or "", wanted, time.monotonic() + self.settings.ready_timeout)
        if silent is not None:
            raise CloudError(
                f"the VM is ACTIVE but port {silent.port} did not answer within {self.settings.ready_timeout:g} s"
            )
        return launched, userdata.services

    def _retry_or_fail(self, session: Session, record: LaunchRecord, exc: CloudError) -> bool:
        if record.attempts > self.settings.retries:
            return self._fail(session, record, f"{exc.message} (after {record.attempts} attempts)")
        pause = min(self.settings.retry_base * 2 ** (record.attempts - 1), self.settings.retry_max)
        record.next_attempt = _now() + timedelta(seconds=pause)
        _count_launch(session, "retried")
        with self.store.transaction() as db:
            launches.save(db, record, _now())
            records.add_message(db, session.uuid, Message.warn(f"{exc.message}; trying again in {pause:g} s"))
        return False

    def _fail(self, session: Session, record: LaunchRecord, reason: str) -> bool:
        log.info("launch_failed session=%s reason=%r", session.uuid, reason)
        outcome = "failed"
        try:
            with self.store.transaction() as conn:
                apply(conn, session.uuid, P.FAILED, reason, _now())
                records.add_message(conn, session.uuid, Message.error(reason))
        except IllegalTransition:
            outcome = "cancelled"  # cancelled meanwhile: the cleanup below is the same
        _count_launch(session, outcome)
        self._cleanup(session, record)
        return False

    # ------------------------------------------------------------------ reconciliation
    def reconcile(self) -> list[UUID]:
        """At every place launched at: adopt objects of live sessions, delete those of finished or unknown ones.
        Returns the sessions whose leftovers it deleted."""
        with self.store.reading() as conn:
            places = launches.places(conn)
        removed: list[UUID] = []
        for site, vo in sorted(places):
            try:
                removed += self._reconcile_place(site, vo)
            except ExecPlannerError as exc:
                log.warning("reconcile_failed site=%s vo=%s error=%s", site, vo, exc.message)
        return removed

    def _reconcile_place(self, site_name: str, vo: str) -> list[UUID]:
        site = self.catalogue().site(site_name)
        site_vo = site.vo(vo) if site else None
        found = self.credentials.robot.for_site(vo, site_name)
        if site is None or site_vo is None or found is None:
            return []  # without the operator's credential only each session's own cleanup can run
        conn = self._connect(SiteProject(site_name, site.endpoint, site_vo.project_id), found[0], 30.0)
        present = cloud.sessions_present(conn)
        with self.store.reading() as db:
            phases = launches.phases_of(db, present)
            states = {u: record.state for u in present if (record := launches.get(db, u)) is not None}
        removed = []
        for uuid in sorted(present):
            phase = phases.get(uuid)
            if phase is not None and phase not in launches.FINAL:
                if uuid not in states:  # adopt: the session's own steps take it from here
                    with self.store.transaction() as db:
                        launches.ensure(db, uuid, site_name, vo, _now())
                continue
            if phase is not None and states.get(uuid, launches.CLEANED) != launches.CLEANED:
                continue  # finished and recorded: its own cleanup runs (with its own credential)
            # unknown, unrecorded, or cleaned yet something is there (a create the cloud carried out after the
            # client gave up on it): delete it
            cloud.teardown(conn, uuid, time.monotonic() + self.settings.teardown_timeout)
            log.info("reconcile_deleted session=%s site=%s known=%s", uuid, site_name, phase is not None)
            removed.append(uuid)
        return removed

    def _drop_pending_credential(self, target: SiteProject, record: LaunchRecord) -> list[str]:
        """An accept was making the caller's credential when the service stopped (the record holds the caller's
        sealed token, no credential id): delete what it made, by name, with that token while it is valid."""
        assert record.credential_sealed is not None
        deleted: list[str] = []
        try:
            if self.credentials.unseal is None:
                raise CloudError("no credential key is configured to open the caller's sealed token")
            token = self.credentials.unseal(record.credential_sealed)
            conn = self._connect(target, OidcToken(token), 30.0)
            deleted = [f"application credential {c}" for c in appcred.delete_named(conn, record.session)]
        except ExecPlannerError as exc:
            expiry = record.credential_expires.isoformat() if record.credential_expires else "its expiry"
            self._note(record.session, f"{exc.message}; an application credential made at accept expires at {expiry}")
        record.credential_sealed = None
        return deleted

    def _drop_credential(self, conn: Any, record: LaunchRecord) -> list[str]:
        """Try to delete the per-user application credential, and forget its sealed secret either way.

        Keystone refuses: a restricted application credential may not delete any application credential, itself
        included (keystone/api/users.py). It then stays, unusable once it expires, until its owner next calls on
        the session with their own token (`UserCredentials.delete_with_owner_token`)."""
        if not record.credential_id or not record.credential_sealed:
            return []
        record.credential_sealed = None
        try:
            appcred.delete(conn, record.credential_id)
        except ExecPlannerError as exc:
            log.info("application_credential_kept session=%s reason=%r", record.session, exc.message)
            with self.store.transaction() as db:
                records.add_message(db, record.session, Message.warn(peruser.kept_message(record)))
            return []
        credential, record.credential_id = record.credential_id, None
        return [f"application credential {credential}"]

    def _cleanup(self, session: Session, record: LaunchRecord) -> bool:
        """Delete everything the session has at its site; True when nothing is left."""
        with self.store.reading() as db:  # afresh: the accept may have saved the caller's credential meanwhile
            record = launches.get(db, session.uuid) or record
        if record.state == launches.CLEANED:
            return True
        try:
            target, _ = self._target(session)
            conn = self._connection(target, record)
            deleted = cloud.teardown(conn, session.uuid, time.monotonic() + self.settings.teardown_timeout)
        except ExecPlannerError as exc:
            pause = min(self.settings.retry_base * 2**record.attempts, self.settings.retry_max)
            record.attempts += 1
            record.next_attempt = _now() + timedelta(seconds=pause)
            with self.store.transaction() as db:
                launches.save(db, record, _now())
                records.add_message(db, session.uuid, Message.warn(f"cleanup failed, retrying: {exc.message}"))
            return False
        had_credential = bool(record.credential_sealed)
        if record.credential_id is None and record.credential_sealed:
            deleted += self._drop_pending_credential(target, record)
        deleted += self._drop_credential(conn, record)
        record.state, record.next_attempt = launches.CLEANED, None
        with self.store.transaction() as db:
            launches.save(db, record, _now())
            if had_credential:
                launches.save_credential(db, record, _now())  # its sealed secret (or token) forgotten
            text = "deleted " + ", ".join(deleted) if deleted else "nothing was left at the site"
            records.add_message(db, session.uuid, Message.info(f"cleanup: {text}"))
        return True


def _count_launch(session: Session, outcome: str) -> None:
    """Feed `execplanner_launches_total` (outcomes: available, failed, cancelled, retried)."""
    site = session.placement.site if session.placement else "unknown"
    metrics.LAUNCHES.labels(site, outcome).inc()


async def run(
    driver: Driver, interval: float, reconcile_interval: float, stop: asyncio.Event, wake: asyncio.Event | None = None
) -> None:
    """Drive sessions every `interval` seconds, and at once when `wake` is set (a session was accepted here),
    and reconcile every `reconcile_interval` (first at start-up), until `stop` is set; a failing pass is logged
    and the loop goes on. Other replicas' accepts are found by the next timed pass."""
    loop = asyncio.get_running_loop()
    # A thread of its own: in the shared request thread pool a pass would queue behind clients' reads under load
    # (50 clients polling their sessions held an accepted launch back by seconds).
    passes = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="driver-pass")
    next_reconcile = 0.0
    failures = FailureStreak(log, "driver_pass_failed")
    try:
        while not stop.is_set():
            try:
                if time.monotonic() >= next_reconcile:
                    next_reconcile = time.monotonic() + reconcile_interval
                    await loop.run_in_executor(passes, driver.reconcile)
                await loop.run_in_executor(passes, driver.renew)
                await loop.run_in_executor(passes, driver.run_pass)
                failures.succeeded()
            except Exception:  # noqa: BLE001 — the loop must survive a bad pass (e.g. database restarting)
                metrics.PASS_FAILURES.labels("driver").inc()
                failures.failed()
            await _pause(stop, wake, interval)
    finally:
        passes.shutdown(wait=False)
        driver.stop()


async def _pause(stop: asyncio.Event, wake: asyncio.Event | None, interval: float) -> None:
    """Until the next pass: `interval` seconds, or less if stopped or woken."""
    waits = [asyncio.ensure_future(event.wait()) for event in (stop, wake) if event is not None]
    _, pending = await asyncio.wait(waits, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
    for waiting in pending:
        waiting.cancel()
    if wake is not None:
        wake.clear()

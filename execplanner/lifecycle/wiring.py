"""Putting the lifecycle driver together from the settings: which credentials, which timeouts, plan-only or not.
The app factory calls `launch_wiring` once and `start` when the store is open."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

from starlette.concurrency import run_in_threadpool

from execplanner.catalogue.model import Catalogue
from execplanner.cloud.sealing import Sealer
from execplanner.config import Settings
from execplanner.lifecycle import driver as driving
from execplanner.lifecycle import peruser
from execplanner.lifecycle.credentials import CredentialSource, robot_from_settings
from execplanner.lifecycle.peruser import UserCredentials
from execplanner.model.documents import Session
from execplanner.store.database import Store
from execplanner.store.launches import FINAL

log = logging.getLogger("execplanner.lifecycle")


def credentials_from_settings(settings: Settings) -> CredentialSource:
    token = settings.robot_token.get_secret_value() if settings.robot_token else None
    sealer = Sealer.from_file(settings.credential_key_file) if settings.credential_key_file else None
    return CredentialSource(
        robot=robot_from_settings(token, settings.robot_credentials), unseal=sealer.unseal if sealer else None
    )


@dataclass
class LaunchWiring:
    settings: Settings
    catalogue: Callable[[], Catalogue]
    credentials: CredentialSource
    sealer: Sealer | None = None
    driver: driving.Driver | None = None
    users: UserCredentials | None = None
    _owner_tasks: dict[UUID, asyncio.Task[None]] = field(default_factory=dict)
    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    def driver_settings(self) -> driving.DriverSettings:
        s = self.settings
        return driving.DriverSettings(
            replica=s.replica_id or f"{socket.gethostname()}:{os.getpid()}",
            launch_timeout=s.launch_timeout,
            ready_timeout=s.ready_timeout,
            teardown_timeout=s.teardown_timeout,
            poll_max=s.cloud_poll_max,
            claim_seconds=s.claim_seconds,
            workers=s.launch_workers,
            plan_only=s.cloud == "none",
        )

    def start(self, store: Store, stop: asyncio.Event) -> asyncio.Task[None]:
        if self.settings.cloud != "none":
            margin = timedelta(seconds=self.settings.application_credential_margin)
            self.users = UserCredentials(store, self.catalogue, self.sealer, margin)
            if self.sealer is None:
                log.warning("per_user_launch_disabled reason='no credential_key_file: robot credentials only'")
        self.driver = driving.Driver(store, self.catalogue, self.credentials, self.driver_settings())
        self._wake, self._loop = asyncio.Event(), asyncio.get_running_loop()
        s = self.settings
        return asyncio.create_task(
            driving.run(self.driver, s.scheduler_interval, s.reconcile_interval, stop, self._wake)
        )

    def accepted(self, session: Session, token: str | None, owner: str | None) -> None:
        """A session was accepted (or created directly): make its own credential while the token is valid, then
        wake the driver, so that the launch starts now rather than at its next pass. Called from a worker thread."""
        if self.users is not None:
            self.users.accepted(session, token, owner)
        if self._loop is not None and self._wake is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def owner_called(self, session: Session, token: str | None) -> None:
        """The session's owner called on it with their token (read it, cancelled it): once its cleanup is done,
        delete a per-user credential Keystone would not let delete itself, with that token. The token stays in
        this task's memory only; called from the event loop."""
        if self.users is None or token is None or session.phase not in FINAL or session.uuid in self._owner_tasks:
            return
        task = asyncio.get_running_loop().create_task(self._delete_when_cleaned(session, token))
        self._owner_tasks[session.uuid] = task
        task.add_done_callback(lambda _: self._owner_tasks.pop(session.uuid, None))

    async def _delete_when_cleaned(self, session: Session, token: str) -> None:
        users = self.users
        assert users is not None
        deadline = time.monotonic() + self.settings.teardown_timeout + self.settings.claim_seconds
        while True:
            state = await run_in_threadpool(peruser.pending, users.store, session.uuid)
            if state is peruser.Pending.LEFT:
                await run_in_threadpool(
                    peruser.delete_with_owner_token, users.store, self.catalogue(), session, token, users.connect
                )
                return
            if state is peruser.Pending.NONE or time.monotonic() > deadline:
                return
            await asyncio.sleep(0.25)

    def stop(self) -> None:
        for task in list(self._owner_tasks.values()):
            task.cancel()


def launch_wiring(
    settings: Settings, catalogue: Callable[[], Catalogue], credentials: CredentialSource | None
) -> LaunchWiring:
    """Checked at start-up: a bad key file or robot file stops the service with the reason."""
    sealer = None
    if settings.cloud != "none" and settings.credential_key_file is not None:
        sealer = Sealer.from_file(settings.credential_key_file)
    if credentials is None:
        credentials = credentials_from_settings(settings) if settings.cloud != "none" else CredentialSource()
    if sealer is not None and credentials.unseal is None:
        credentials.unseal = sealer.unseal
    return LaunchWiring(settings, catalogue, credentials, sealer)

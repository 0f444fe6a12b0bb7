"""At accept time, while the caller's Check-in token is still valid: an application credential for the session,
its secret sealed into the session's launch record. Without a credential key this is off, and the session says
the operator's robot credential will be used instead."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any
from uuid import UUID

from execplanner.catalogue.model import Catalogue
from execplanner.cloud import appcred
from execplanner.cloud.connection import OidcToken, SiteProject, connect
from execplanner.cloud.sealing import Sealer
from execplanner.errors import ExecPlannerError
from execplanner.lifecycle.credentials import launch_identity
from execplanner.model.documents import Session
from execplanner.model.message import Message
from execplanner.store import launches, records
from execplanner.store.database import Store

log = logging.getLogger("execplanner.credentials")


def site_project(catalogue: Catalogue, session: Session) -> SiteProject:
    placement = session.placement
    assert placement is not None
    site = catalogue.site(placement.site)
    site_vo = site.vo(placement.vo) if site else None
    if site is None or site_vo is None:
        raise ExecPlannerError(f"{placement.site} ({placement.vo}) is not in the catalogue")
    return SiteProject(placement.site, site.endpoint, placement.project_id or site_vo.project_id)


@dataclass
class UserCredentials:
    store: Store
    catalogue: Callable[[], Catalogue]
    sealer: Sealer | None
    margin: timedelta
    connect: Callable[..., Any] = connect

    def accepted(self, session: Session, token: str | None, owner: str | None) -> None:
        """Make the session's own credential with the caller's token, if there is a token and a key."""
        if token is None or session.placement is None or session.schedule is None:
            return
        if self.sealer is None:
            self._note(
                session,
                Message.info(
                    "per-user launch is off on this service (no credential key): "
                    "the operator's robot credential will be used"
                ),
            )
            return
        releasing = session.schedule.releasing
        expires = max(releasing.start + releasing.duration, datetime.now(UTC)) + self.margin
        site, vo = session.placement.site, session.placement.vo
        self._pending(session, site, vo, self.sealer.seal(token), expires)
        try:
            target = site_project(self.catalogue(), session)
            conn = self.connect(target, OidcToken(token), 30.0)
            credential = appcred.create(conn, session.uuid, expires)
        except ExecPlannerError as exc:
            log.info("application_credential_failed session=%s reason=%r", session.uuid, exc.message)
            if self._made_anyway(session, token):
                self._pending(session, site, vo, None, None)
            self._record_outcome(
                session,
                f"{owner or 'the caller'} (no application credential of their own)",
                Message.warn(
                    f"{exc.message}; the operator's robot credential will be used if this service has one for the VO"
                ),
            )
            return
        sealed = self.sealer.seal(credential.secret)

        def save(conn: Any) -> None:
            record = launches.ensure(conn, session.uuid, site, vo, datetime.now(UTC))
            record.credential_id, record.credential_sealed, record.credential_expires = credential.id, sealed, expires
            record.identity = f"{owner or 'the caller'} (application credential {credential.id})"
            record.next_attempt = None
            launches.save(conn, record, datetime.now(UTC))
            launches.save_credential(conn, record, datetime.now(UTC))
            launches.set_launch(conn, session.uuid, launch_identity(record, target, credential, owner))
            records.add_message(
                conn,
                session.uuid,
                Message.info(
                    f"launching with your own application credential {credential.id}, valid until {expires.isoformat()}"
                ),
            )

        self.store.run(save)

    def _record_outcome(self, session: Session, identity: str, message: Message) -> None:
        """Say it in the session, and let the driver (waiting for this outcome) go on."""
        assert session.placement is not None
        site, vo = session.placement.site, session.placement.vo

        def save(conn: Any) -> None:
            record = launches.ensure(conn, session.uuid, site, vo, datetime.now(UTC))
            record.identity, record.next_attempt = identity, None
            launches.save(conn, record, datetime.now(UTC))
            records.add_message(conn, session.uuid, message)

        self.store.run(save)

    def _made_anyway(self, session: Session, token: str) -> bool:
        """After a failed create (a timeout, say), delete what Keystone may have made all the same; False if that
        could not be checked, and the session's cleanup must try again with the sealed token."""
        try:
            conn = self.connect(site_project(self.catalogue(), session), OidcToken(token), 30.0)
            appcred.delete_named(conn, session.uuid)
        except ExecPlannerError as exc:
            log.info("application_credential_check_failed session=%s reason=%r", session.uuid, exc.message)
            return False
        return True

    def _pending(self, session: Session, site: str, vo: str, sealed_token: str | None, expires: Any) -> None:
        """Before the credential is made: the caller's token, sealed, in place of its secret (no credential id
        yet), so that if this service stops before it hears the answer, the session's cleanup can still find the
        credential by name and delete it with the token (`Driver._drop_pending_credential`). Cleared on failure."""

        def save(conn: Any) -> None:
            record = launches.ensure(conn, session.uuid, site, vo, datetime.now(UTC))
            record.credential_id, record.credential_sealed, record.credential_expires = None, sealed_token, expires
            launches.save_credential(conn, record, datetime.now(UTC))

        self.store.run(save)

    def _note(self, session: Session, message: Message) -> None:
        self.store.run(lambda conn: records.add_message(conn, session.uuid, message))


def kept_message(record: launches.LaunchRecord) -> str:
    """What the session says when Keystone refused to let the credential delete itself."""
    expiry = record.credential_expires.isoformat() if record.credential_expires else "its expiry"
    return (
        f"application credential {record.credential_id} was not deleted: Keystone does not let a restricted "
        f"application credential delete itself. It stays until it expires at {expiry} and cannot be used after; "
        "call on this session with your own token (read it, or cancel it) to have it deleted now"
    )


class Pending(Enum):
    """Where a session's per-user credential stands for its owner's deletion."""

    NONE = "none"  # none, or already deleted
    IN_USE = "in use"  # the session's cleanup has not run yet
    LEFT = "left"  # cleaned up, but Keystone would not let the credential delete itself


def pending(store: Store, session: UUID) -> Pending:
    with store.reading() as conn:
        record = launches.get(conn, session)
    if record is None or not record.credential_id:
        return Pending.NONE
    if record.state != launches.CLEANED or record.credential_sealed:
        return Pending.IN_USE
    return Pending.LEFT


def delete_with_owner_token(
    store: Store, catalogue: Catalogue, session: Session, token: str, connect: Callable[..., Any] = connect
) -> bool:
    """Delete the credential Keystone would not let delete itself, with its owner's own (Check-in) token; True if
    it is gone. A token Keystone refuses leaves it to expire (logged, not said again in the session)."""
    with store.reading() as conn:
        record = launches.get(conn, session.uuid)
    if record is None or not record.credential_id:
        return True
    try:
        owner = connect(site_project(catalogue, session), OidcToken(token), 30.0)
        appcred.delete(owner, record.credential_id)
    except ExecPlannerError as exc:
        log.info("application_credential_owner_delete_failed session=%s reason=%r", session.uuid, exc.message)
        return False
    credential = record.credential_id

    def forget(conn: Any) -> None:
        current = launches.get(conn, session.uuid)
        if current is None or current.credential_id != credential:
            return  # another request of the owner deleted it first
        current.credential_id = None
        launches.save_credential(conn, current, datetime.now(UTC))
        records.add_message(
            conn, session.uuid, Message.info(f"application credential {credential} deleted with your token")
        )

    store.run(forget)
    log.info("application_credential_deleted_by_owner session=%s", session.uuid)
    return True

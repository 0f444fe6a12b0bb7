"""Per-user application credentials: made with the caller's own token at accept time, in the VO's project at the
offer's site, restricted (it cannot make more credentials) and expiring shortly after the lease. The session
launches and tears down with it, however long after the accept; it is deleted at the end."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from execplanner.cloud._errors import calling
from execplanner.cloud._names import object_name
from execplanner.cloud.connection import ApplicationCredential


def create(conn: Any, session: UUID, expires: datetime) -> ApplicationCredential:
    """A restricted application credential of the connection's user, named after the session."""
    with calling(conn, "create_application_credential", "creating an application credential with your token"):
        user_id = conn.current_user_id
        created = conn.identity.create_application_credential(
            user=user_id,
            name=object_name(session),
            description=f"execplanner session {session}",
            expires_at=expires.strftime("%Y-%m-%dT%H:%M:%S"),
            unrestricted=False,
        )
    return ApplicationCredential(created.id, created.secret)


def delete(conn: Any, credential_id: str) -> None:
    """Delete it (with itself, or any token of its user); a site that refuses leaves it to expire."""
    with calling(conn, "delete_application_credential", "deleting the application credential"):
        conn.identity.delete_application_credential(conn.current_user_id, credential_id, ignore_missing=True)

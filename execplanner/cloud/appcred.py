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


def delete_named(conn: Any, session: UUID) -> list[str]:
    """Delete the connection's user's credentials named after the session (one made by an accept whose service
    stopped before it heard the answer); their ids."""
    name = object_name(session)
    deleted = []
    with calling(conn, "delete_application_credential", "deleting the application credential made for the session"):
        user_id = conn.current_user_id
        for credential in conn.identity.application_credentials(user=user_id):
            if credential.name == name:
                conn.identity.delete_application_credential(user_id, credential.id, ignore_missing=True)
                deleted.append(credential.id)
    return deleted

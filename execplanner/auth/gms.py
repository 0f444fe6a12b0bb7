"""IVOA Group Membership Service (GMS 1.0) client: which of some groups does the token's owner belong to?

The user's own token is sent, so the GMS answers for them and nobody else. Only groups we asked about are
believed: a GMS that answers with more is not allowed to widen what we asked.
"""

from __future__ import annotations

from collections.abc import Sequence

import requests

from execplanner.auth._http import Unreachable, call
from execplanner.errors import ExecPlannerError, Unauthorized


class GroupServiceError(ExecPlannerError):
    """The group membership service failed; not the caller's fault, so not a 401."""

    status = 502


def gms_groups(
    gms_url: str,
    token: str,
    groups: Sequence[str],
    *,
    http: requests.Session | None = None,
    timeout: float = 5.0,
) -> frozenset[str]:
    """The subset of `groups` the caller is in (all their groups when `groups` is empty)."""
    session = http or requests.Session()
    try:
        response = call(
            session,
            "GET",
            gms_url,
            timeout=timeout,
            params=[("group", g) for g in groups],
            headers={"Authorization": f"Bearer {token}", "Accept": "text/plain"},
        )
    except Unreachable as exc:
        raise GroupServiceError(f"the group membership service {gms_url} could not be reached ({exc})") from None
    finally:
        if http is None:
            session.close()
    if response.status_code in (401, 403):
        raise Unauthorized(f"the group membership service {gms_url} refused the token")
    if response.status_code != 200:
        raise GroupServiceError(f"the group membership service {gms_url} answered HTTP {response.status_code}")
    if response.headers.get("content-type", "").split(";")[0].strip().lower() != "text/plain":
        raise GroupServiceError(f"the group membership service {gms_url} did not answer in text/plain")
    found = frozenset(line.strip() for line in response.text.splitlines() if line.strip())
    return found & frozenset(groups) if groups else found

"""How execplanner names what it creates at a site: everything carries the session's uuid."""

from __future__ import annotations

from uuid import UUID

PREFIX = "execplanner-"
META_KEY = "execplanner-session"
POLL = 0.1
MAX_POLL = 2.0


def object_name(session: UUID) -> str:
    return f"{PREFIX}{session}"

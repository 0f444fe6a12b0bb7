"""What the client reads out of the service's answers, whichever dialect they came in (2025 `type`/`href`,
2026 `kind`/`meta`): the few fields a person looks at, typed; the whole document is kept for `--output json`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# a session the service has finished with: nothing more will happen to it
FINAL_PHASES = frozenset({"REJECTED", "EXPIRED", "COMPLETED", "CANCELLED", "FAILED"})
# the executable can be reached (2025 clients are told READY for AVAILABLE)
REACHABLE_PHASES = frozenset({"AVAILABLE", "READY", "RUNNING"})


def _instant(value: Any) -> datetime | None:
    """An ISO 8601 instant, or the start of an `instant/PT0S` interval."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.split("/", 1)[0].replace("Z", "+00:00"))
    except ValueError:
        return None


def _meta(document: dict[str, Any]) -> dict[str, Any]:
    meta = document.get("meta")
    return meta if isinstance(meta, dict) else {}


def _access_urls(executable: Any) -> list[str]:
    """Where the running executable answers: its access methods' locations, then its ports' public addresses."""
    if not isinstance(executable, dict):
        return []
    urls: list[str] = []
    for method in executable.get("access") or []:
        urls += [str(location) for location in (method.get("locations") or []) if isinstance(method, dict)]
    for port in (executable.get("network") or {}).get("ports") or []:
        external = port.get("external") if isinstance(port, dict) else None
        if isinstance(external, dict):
            urls += [str(address) for address in external.get("addresses") or []]
    return list(dict.fromkeys(urls))


@dataclass(frozen=True)
class SessionView:
    """One offer or session as the client shows it."""

    uuid: str
    url: str
    phase: str
    site: str | None = None
    flavor: str | None = None
    cores: int | None = None
    memory_gib: float | None = None
    start: datetime | None = None
    duration: str | None = None
    expires: datetime | None = None
    access_urls: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    document: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def read(cls, document: dict[str, Any]) -> SessionView:
        placement = document.get("placement") or {}
        schedule = document.get("schedule") or {}
        running = schedule.get("available") or schedule.get("executing") or {}
        return cls(
            uuid=str(document.get("uuid") or _meta(document).get("uuid") or ""),
            url=str(document.get("href") or _meta(document).get("url") or ""),
            phase=str(document.get("phase") or document.get("state") or "?"),
            site=placement.get("site"),
            flavor=placement.get("flavor"),
            cores=placement.get("cores"),
            memory_gib=placement.get("memory"),
            start=_instant(running.get("start")),
            duration=running.get("duration"),
            expires=_instant(document.get("expires")),
            access_urls=_access_urls(document.get("executable")),
            messages=_messages(document),
            document=document,
        )

    @property
    def is_final(self) -> bool:
        return self.phase in FINAL_PHASES

    @property
    def is_reachable(self) -> bool:
        return self.phase in REACHABLE_PHASES

    def expires_in(self, now: datetime | None = None) -> str:
        """`4m 59s`, `expired`, or `-` when the offer carries no expiry (or is no longer an offer)."""
        if self.expires is None or self.phase != "OFFERED":
            return "-"
        seconds = int((self.expires - (now or datetime.now(UTC))).total_seconds())
        if seconds <= 0:
            return "expired"
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {seconds:02d}s"


def _messages(document: dict[str, Any]) -> list[str]:
    out = []
    for message in document.get("messages") or []:
        if isinstance(message, dict) and message.get("message"):
            out.append(f"{message.get('level', 'INFO')}: {message['message']}")
    return out


@dataclass(frozen=True)
class OfferSetView:
    """An offer set: the answer YES or NO, its offers, and the messages saying why."""

    uuid: str
    url: str
    result: str
    offers: list[SessionView]
    messages: list[str]
    document: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def read(cls, document: dict[str, Any]) -> OfferSetView:
        return cls(
            uuid=str(document.get("uuid") or _meta(document).get("uuid") or ""),
            url=str(document.get("href") or _meta(document).get("url") or ""),
            result=str(document.get("result") or "?"),
            offers=[SessionView.read(offer) for offer in document.get("offers") or [] if isinstance(offer, dict)],
            messages=_messages(document),
            document=document,
        )

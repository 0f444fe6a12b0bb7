"""Which token issuers we trust, and what their OIDC discovery documents say about them.

Issuers are compared as exact strings: EGI Check-in's has no trailing slash, ESCAPE IAM's has one, and a token
whose `iss` differs by that slash is a token from somewhere else. Every endpoint comes from discovery, whose
`issuer` must equal the configured one exactly (OpenID Connect Discovery 1.0, section 4.3).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from pydantic import SecretStr

from execplanner.auth._http import Unreachable, call, json_object
from execplanner.auth._text import shown
from execplanner.errors import Unauthorized

log = logging.getLogger("execplanner.auth")

DISCOVERY_TTL = 3600.0
#: After a failed discovery, refuse tokens of that issuer without asking again for this long.
RETRY_AFTER_FAILURE = 5.0
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@dataclass(frozen=True)
class TrustedIssuer:
    """One issuer whose tokens we accept, as the operator configured it."""

    issuer: str
    audience: str | None = None
    userinfo: bool = True
    client_id: str | None = None
    client_secret: SecretStr | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.issuer)
        if parts.scheme not in ("https", "http") or not parts.hostname or parts.query or parts.fragment:
            raise ValueError(f"issuer {self.issuer!r} is not an https URL without query or fragment")
        if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
            raise ValueError(f"issuer {self.issuer!r} must use https (plain http only on loopback, for tests)")
        if isinstance(self.client_secret, str):
            object.__setattr__(self, "client_secret", SecretStr(self.client_secret))

    @property
    def can_introspect(self) -> bool:
        return bool(self.client_id and self.client_secret and self.client_secret.get_secret_value())

    @property
    def discovery_url(self) -> str:
        base = self.issuer[:-1] if self.issuer.endswith("/") else self.issuer
        return base + "/.well-known/openid-configuration"


@dataclass(frozen=True)
class IssuerMetadata:
    """The parts of a discovery document we use."""

    issuer: str
    jwks_uri: str
    userinfo_endpoint: str | None = None
    introspection_endpoint: str | None = None


@dataclass
class _Entry:
    metadata: IssuerMetadata | None = None
    error: str | None = None
    until: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Discovery:
    """Thread-safe cache of discovery documents: kept an hour, a failure remembered a few seconds."""

    def __init__(self, http: requests.Session, *, timeout: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self._http = http
        self._timeout = timeout
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._guard = threading.Lock()

    def metadata(self, issuer: TrustedIssuer) -> IssuerMetadata:
        """The issuer's metadata, or `Unauthorized` saying why it cannot be used right now."""
        with self._guard:
            entry = self._entries.setdefault(issuer.issuer, _Entry())
        with entry.lock:
            if self._clock() >= entry.until:
                self._refresh(issuer, entry)
            if entry.metadata is None:
                raise Unauthorized(entry.error or f"issuer {issuer.issuer} could not be reached")
            return entry.metadata

    def _refresh(self, issuer: TrustedIssuer, entry: _Entry) -> None:
        try:
            entry.metadata, entry.error = self._fetch(issuer), None
            entry.until = self._clock() + DISCOVERY_TTL
            log.info("discovery_loaded issuer=%s", issuer.issuer)
        except _Refused as exc:
            entry.metadata, entry.error = None, str(exc)
            entry.until = self._clock() + RETRY_AFTER_FAILURE
            log.warning("discovery_failed issuer=%s reason=%s", issuer.issuer, exc.why)

    def _fetch(self, issuer: TrustedIssuer) -> IssuerMetadata:
        try:
            response = call(self._http, "GET", issuer.discovery_url, timeout=self._timeout)
            if response.status_code != 200:
                raise Unreachable(f"HTTP {response.status_code}")
            document = json_object(response)
        except Unreachable as exc:
            raise _Refused(f"issuer {issuer.issuer} could not be reached", f"unreachable ({exc})") from None
        found = document.get("issuer")
        if found != issuer.issuer:
            raise _Refused(
                f"issuer {issuer.issuer} is misconfigured: its discovery document names another issuer",
                f"issuer_mismatch discovered={shown(found)!r}",
            )
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise _Refused(f"issuer {issuer.issuer} publishes no signing keys", "no jwks_uri")
        return IssuerMetadata(
            issuer=issuer.issuer,
            jwks_uri=jwks_uri,
            userinfo_endpoint=_url_or_none(document.get("userinfo_endpoint")),
            introspection_endpoint=_url_or_none(document.get("introspection_endpoint")),
        )


class _Refused(Exception):
    """A discovery failure: `str()` is for the caller, `why` for the operator's log."""

    def __init__(self, message: str, why: str) -> None:
        super().__init__(message)
        self.why = why


def _url_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None

"""One openstacksdk connection per (site, project), authenticated the EGI way or with an application credential.

EGI FedCloud sites federate Keystone with Check-in: an OIDC access token goes to the `egi.eu` identity provider
over the `openid` protocol (`v3oidcaccesstoken`). Sites that take only application credentials (and launches
that happen after the user's token has expired) use `v3applicationcredential`. Either way the connection is
scoped to the VO's project at that site, and never reads clouds.yaml or OS_* variables.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from execplanner.cloud._errors import tag_site

log = logging.getLogger("execplanner.cloud")

EGI_IDENTITY_PROVIDER = "egi.eu"
EGI_PROTOCOL = "openid"


@dataclass(frozen=True)
class SiteProject:
    """Where to connect: a site's Keystone and the VO's project there (from the catalogue)."""

    site: str
    auth_url: str
    project_id: str
    identity_provider: str = EGI_IDENTITY_PROVIDER
    protocol: str = EGI_PROTOCOL


@dataclass(frozen=True)
class OidcToken:
    """A Check-in access token (the user's, or the robot account's freshly refreshed one)."""

    access_token: str = field(repr=False)


@dataclass(frozen=True)
class ApplicationCredential:
    """A Keystone application credential: an id and its secret (never logged, never stored in clear)."""

    id: str
    secret: str = field(repr=False)


Credential = OidcToken | ApplicationCredential


def auth_options(target: SiteProject, credential: Credential) -> dict[str, Any]:
    """keystoneauth options for this credential at this site."""
    if isinstance(credential, ApplicationCredential):
        return {
            "auth_type": "v3applicationcredential",
            "auth_url": target.auth_url,
            "application_credential_id": credential.id,
            "application_credential_secret": credential.secret,
        }
    return {
        "auth_type": "v3oidcaccesstoken",
        "auth_url": target.auth_url,
        "identity_provider": target.identity_provider,
        "protocol": target.protocol,
        "access_token": credential.access_token,
        "project_id": target.project_id,
    }


def connect(target: SiteProject, credential: Credential, timeout: float = 30.0) -> Any:
    """An `openstack.connection.Connection` for the VO's project at the site (nothing is called yet)."""
    import openstack  # heavy: imported when the first launch needs it

    conn = openstack.connect(
        **auth_options(target, credential),
        load_yaml_config=False,
        load_envvars=False,
        api_timeout=timeout,
        timeout=timeout,
    )
    return tag_site(conn, target.site)  # its calls are counted by site (execplanner_cloud_calls_total)


def authenticate(conn: Any, site: str) -> None:
    """Get the connection's token now, so that Keystone's refusal or outage is reported as such (and a 5xx or a
    timeout as worth retrying), not as the failure of whichever call happened to come first."""
    from execplanner.cloud._errors import calling

    with calling(conn, "authenticate", f"authenticating at {site}"):
        conn.session.get_token()  # not conn.authorize(): it turns every failure into a bare SDKException


class Connections:
    """Authenticated connections kept for reuse, so that a launch does not pay for a Keystone authentication
    (one token request, or two for the OIDC exchange) its credential already paid for.

    - One thread at a time: a connection is leased to the thread that asked (`lease`) until that thread gives
      its leases back (`give_back`, when its piece of work is done); only idle connections are shared out, so
      nothing depends on openstacksdk's `Connection` being safe to use from several threads at once.
    - Only to the same credential: connections are kept by (site, Keystone, project, credential), the credential
      by a digest of everything in it, secret included, so a per-user credential's connection never serves
      another user, and a robot token refreshed at its issuer starts new connections.
    - Only while its token is good: an idle connection is reused only if its Keystone token has more than
      `margin` seconds left; a failed authentication (keystoneauth drops the token on a refusal) or a connection
      that never authenticated is not kept. Idle ones are dropped after `idle_for` seconds; at most `keep` are
      kept per credential and place and `most` in all (the oldest go first: per-user credentials are one per
      session, and their idle connections would otherwise pile up, each with its sockets open). A connection
      not kept is closed when it is dropped.
    - A new connection starts from what its credential already has: the Keystone token (and catalogue) last got or
      given back for the same credential and place, while it has more than `margin` seconds left and for no longer
      than `idle_for` (0: every connection authenticates), and
      the versions that place's endpoints were found to serve (openstacksdk's discovery). So a burst of launches
      that needs many connections at once authenticates and discovers once, not once per connection; each new
      connection still re-authenticates with its own credential once that token ends.
    """

    def __init__(
        self,
        connect: Callable[[SiteProject, Credential, float], Any] = connect,
        margin: float = 300.0,
        idle_for: float = 600.0,
        keep: int = 64,
        most: int = 256,
    ) -> None:
        self._connect = connect
        self._margin, self._idle_for, self._keep, self._most = margin, idle_for, keep, most
        self._idle: dict[tuple[SiteProject, str], list[tuple[float, Any]]] = {}
        self._tokens: dict[tuple[SiteProject, str], tuple[float, Any]] = {}  # (kept at, keystoneauth AccessInfo)
        self._discovered: dict[tuple[SiteProject, str], dict[str, Any]] = {}  # keystoneauth's discovery cache
        self._authenticating: dict[tuple[SiteProject, str], threading.Lock] = {}
        self._lock = threading.Lock()
        self._leases = threading.local()

    def lease(
        self,
        target: SiteProject,
        credential: Credential,
        timeout: float = 30.0,
        authenticate: Callable[[Any], None] | None = None,
    ) -> Any:
        """A connection for this thread: the one it already holds for this credential, an idle one whose token
        is good, or a new one. With `authenticate` (which gets the connection's token, or raises), the connection
        is returned with a good token: one thread at a time authenticates for a credential and place, and those
        waiting meanwhile take the token it got rather than each asking Keystone for one."""
        key = (target, _digest(credential))
        held: dict[tuple[SiteProject, str], Any] = self._held()
        conn = held.get(key)
        if conn is None:
            conn = self._take_idle(key)
            if conn is None:
                conn = self._connect(target, credential, timeout)
                self._share_discovery(key, conn)
            held[key] = conn
        if authenticate is not None and _token_left(conn) <= self._margin:
            with self._first(key):
                self._share_token(key, conn)
                if _token_left(conn) <= self._margin:
                    authenticate(conn)
                    self._keep_token(key, conn)
        return conn

    def give_back(self) -> None:
        """This thread's work is done: its connections become idle, those whose token is not good are dropped."""
        held = self._held()
        now = time.monotonic()
        dropped = []
        with self._lock:
            for key, conn in held.items():
                if _token_left(conn) <= self._margin:
                    dropped.append(conn)
                    continue
                self._tokens[key] = (now, getattr(_auth(conn), "auth_ref", None))  # the newest, for new ones
                idle = self._idle.setdefault(key, [])
                if len(idle) < self._keep:
                    idle.append((now, conn))
                else:
                    dropped.append(conn)
            dropped += self._drop_stale(now)
        held.clear()
        _close(dropped)

    def idle(self) -> int:
        """How many connections wait for reuse (for tests)."""
        with self._lock:
            return sum(len(conns) for conns in self._idle.values())

    def _first(self, key: tuple[SiteProject, str]) -> threading.Lock:
        with self._lock:
            return self._authenticating.setdefault(key, threading.Lock())

    def _share_discovery(self, key: tuple[SiteProject, str], conn: Any) -> None:
        """The versions this place's endpoints serve, as openstacksdk found them for an earlier connection."""
        auth = _auth(conn)
        if auth is not None and isinstance(getattr(auth, "_discovery_cache", None), dict):
            with self._lock:
                discovered = self._discovered.setdefault(key, {})
            auth._discovery_cache = discovered  # noqa: SLF001 — keystoneauth's own per-plugin cache, shared

    def _share_token(self, key: tuple[SiteProject, str], conn: Any) -> None:
        """The credential's last token at this place, while it is good (keystoneauth's AccessInfo is never
        changed in place: a new token replaces it, so one is safely shared)."""
        auth = _auth(conn)
        with self._lock:
            at, token = self._tokens.get(key, (0.0, None))
        fresh = time.monotonic() - at < self._idle_for  # kept no longer than an idle connection is
        if auth is not None and token is not None and fresh and _seconds_left(token) > self._margin:
            auth.auth_ref = token

    def _keep_token(self, key: tuple[SiteProject, str], conn: Any) -> None:
        auth = _auth(conn)
        if auth is not None and _seconds_left(auth.auth_ref) > self._margin:
            with self._lock:
                self._tokens[key] = (time.monotonic(), auth.auth_ref)

    def _held(self) -> dict[tuple[SiteProject, str], Any]:
        if not hasattr(self._leases, "held"):
            self._leases.held = {}
        held: dict[tuple[SiteProject, str], Any] = self._leases.held
        return held

    def _take_idle(self, key: tuple[SiteProject, str]) -> Any | None:
        found = None
        with self._lock:
            dropped = self._drop_stale(time.monotonic())
            idle = self._idle.get(key, [])
            while idle and found is None:
                _, conn = idle.pop()
                if _token_left(conn) > self._margin:
                    found = conn
                else:
                    dropped.append(conn)
        _close(dropped)
        return found

    def _drop_stale(self, now: float) -> list[Any]:
        """Keep the idle connections not idle for too long, at most `most` of them (the newest); returns the others,
        for the caller to close once it lets go of the lock."""
        entries = sorted(
            ((at, key, conn) for key, conns in self._idle.items() for at, conn in conns), key=lambda entry: entry[0]
        )
        fresh = [entry for entry in entries if now - entry[0] < self._idle_for]
        kept = fresh[-self._most :]
        kept_ids = {id(conn) for _, _, conn in kept}
        self._idle = {}
        for at, key, conn in kept:
            self._idle.setdefault(key, []).append((at, conn))
        return [conn for _, _, conn in entries if id(conn) not in kept_ids]


def _close(dropped: list[Any]) -> None:
    """Close connections no longer kept, so their sockets close now, not when the garbage collector finds them
    (openstacksdk's connections sit in reference cycles)."""
    for conn in dropped:
        try:
            conn.close()
        except Exception as exc:  # noqa: BLE001 — a connection that fails to close is dropped all the same
            log.debug("connection_close_failed error=%s", type(exc).__name__)


def _digest(credential: Credential) -> str:
    """Identifies the credential, secret included, without keeping the secret itself as a key."""
    if isinstance(credential, ApplicationCredential):
        text = f"application-credential\0{credential.id}\0{credential.secret}"
    else:
        text = f"oidc\0{credential.access_token}"
    return hashlib.sha256(text.encode()).hexdigest()


def _auth(conn: Any) -> Any | None:
    """The connection's keystoneauth identity plugin, if it has one."""
    auth = getattr(getattr(conn, "session", None), "auth", None)
    return auth if hasattr(auth, "auth_ref") else None


def _token_left(conn: Any) -> float:
    """Seconds the connection's Keystone token has left; 0 if it has none (never authenticated, or refused)."""
    return _seconds_left(getattr(_auth(conn), "auth_ref", None))


def _seconds_left(auth_ref: Any) -> float:
    """Seconds a keystoneauth AccessInfo has left; 0 for none."""
    expires = getattr(auth_ref, "expires", None)
    if not isinstance(expires, datetime):
        return 0.0
    return (expires - datetime.now(UTC)).total_seconds()

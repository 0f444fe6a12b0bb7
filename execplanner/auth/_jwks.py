"""Issuers' signing keys (JWKS), cached, with one refetch when a token names a key we have not seen.

Only asymmetric algorithms are ever accepted, and a key is used only for an algorithm its type allows: this is
what defeats `alg: none` and the HS256-with-the-public-key confusion, whatever the token's header claims.
Unknown key ids trigger a refetch at most every `REFETCH_INTERVAL` seconds, so random `kid`s cannot make us
hammer an issuer.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from execplanner.auth._http import Unreachable, call, json_object
from execplanner.errors import Unauthorized

log = logging.getLogger("execplanner.auth")

#: algorithm -> (JWK key type, curve or None)
ALGORITHMS: dict[str, tuple[str, str | None]] = {
    "RS256": ("RSA", None),
    "RS384": ("RSA", None),
    "RS512": ("RSA", None),
    "PS256": ("RSA", None),
    "ES256": ("EC", "P-256"),
    "ES384": ("EC", "P-384"),
}
JWKS_TTL = 3600.0
REFETCH_INTERVAL = 10.0
RETRY_AFTER_FAILURE = 5.0


@dataclass
class _KeySet:
    uri: str = ""
    keys: list[dict[str, Any]] | None = None
    fetched: float = float("-inf")
    until: float = 0.0
    built: dict[tuple[str | None, str], PyJWK] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class KeySets:
    """Thread-safe JWKS cache, one key set per issuer."""

    def __init__(self, http: requests.Session, *, timeout: float = 5.0, clock: Callable[[], float] = time.time) -> None:
        self._http = http
        self._timeout = timeout
        self._clock = clock
        self._sets: dict[str, _KeySet] = {}
        self._guard = threading.Lock()

    def key(self, issuer: str, jwks_uri: str, kid: str | None, alg: str) -> PyJWK:
        """The issuer's key for (`kid`, `alg`), or `Unauthorized`."""
        with self._guard:
            entry = self._sets.setdefault(issuer, _KeySet())
        with entry.lock:
            if entry.keys is None or entry.uri != jwks_uri or self._clock() >= entry.until:
                self._load(issuer, jwks_uri, entry)
            jwk = _pick(entry.keys or [], kid, alg)
            if jwk is None and self._clock() - entry.fetched >= REFETCH_INTERVAL:
                log.info("jwks_refetch issuer=%s reason=unknown_key", issuer)
                self._load(issuer, jwks_uri, entry)
                jwk = _pick(entry.keys or [], kid, alg)
            if jwk is None:
                raise Unauthorized(f"token was signed with a key issuer {issuer} does not publish")
            return self._built(entry, jwk, alg)

    def _built(self, entry: _KeySet, jwk: dict[str, Any], alg: str) -> PyJWK:
        slot = (jwk.get("kid"), alg)
        if slot not in entry.built:
            try:
                entry.built[slot] = PyJWK(jwk, algorithm=alg)
            except PyJWTError:
                raise Unauthorized("the issuer's signing key cannot be read") from None
        return entry.built[slot]

    def _load(self, issuer: str, jwks_uri: str, entry: _KeySet) -> None:
        """Fetch the key set; on failure keep the keys we had (if any) and retry in a few seconds."""
        now = self._clock()
        try:
            response = call(self._http, "GET", jwks_uri, timeout=self._timeout)
            if response.status_code != 200:
                raise Unreachable(f"HTTP {response.status_code}")
            keys = json_object(response).get("keys")
            if not isinstance(keys, list):
                raise Unreachable("no 'keys' list")
        except Unreachable as exc:
            log.warning("jwks_failed issuer=%s reason=%s", issuer, exc)
            entry.until = now + RETRY_AFTER_FAILURE
            if entry.keys is None or entry.uri != jwks_uri:
                raise Unauthorized(f"issuer {issuer} could not be reached for its signing keys") from None
            return
        entry.uri, entry.keys, entry.built = jwks_uri, [k for k in keys if isinstance(k, dict)], {}
        entry.fetched, entry.until = now, now + JWKS_TTL
        log.info("jwks_loaded issuer=%s keys=%d", issuer, len(entry.keys))


def _pick(keys: list[dict[str, Any]], kid: str | None, alg: str) -> dict[str, Any] | None:
    """The one published key that may verify `alg` and carries `kid` (with no `kid`: the only such key)."""
    fitting = [k for k in keys if _fits(k, alg)]
    if kid is not None:
        fitting = [k for k in fitting if k.get("kid") == kid]
    return fitting[0] if len(fitting) == 1 else None


def _fits(jwk: dict[str, Any], alg: str) -> bool:
    kty, crv = ALGORITHMS[alg]
    if jwk.get("kty") != kty or (crv is not None and jwk.get("crv") != crv):
        return False
    if jwk.get("use", "sig") != "sig" or jwk.get("alg", alg) != alg:
        return False
    ops = jwk.get("key_ops")
    return ops is None or (isinstance(ops, list) and "verify" in ops)

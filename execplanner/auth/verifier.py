"""Bearer-token validation: from an `Authorization` header to an `Identity`, or a 401 that says why.

JWTs are checked locally against the issuer's published keys; opaque tokens are sent to an issuer's RFC 7662
introspection endpoint. EGI Check-in access tokens carry no `eduperson_entitlement`, so those come from userinfo,
cached per token. A token never appears in a message, an exception or a log line: refusals are fresh
`Unauthorized` errors with plain reasons, raised `from None` so no library exception text rides along.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jwt
import requests
from jwt.exceptions import InvalidAlgorithmError, InvalidSignatureError, PyJWTError

from execplanner.auth import _claims
from execplanner.auth._cache import TokenCache, TokenLocks
from execplanner.auth._http import Unreachable, call, json_object
from execplanner.auth._jwks import ALGORITHMS, KeySets
from execplanner.auth._text import shown
from execplanner.auth.identity import Identity
from execplanner.auth.issuers import Discovery, IssuerMetadata, TrustedIssuer
from execplanner.errors import Unauthorized

if TYPE_CHECKING:
    from jwt.types import Options

log = logging.getLogger("execplanner.auth")

#: RFC 6750 `b64token`; anything else in an Authorization header is not a bearer token.
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
MAX_TOKEN_LENGTH = 16 * 1024
IVOA_OPENID = "ivo://ivoa.net/sso#OpenID"

_Claims = tuple[frozenset[str] | None, frozenset[str]]  # (entitlements, groups) learnt from userinfo


def bearer_token(authorization_header: str | None) -> str | None:
    """The token of `Authorization: Bearer <token>`; None when there is no header; 401 when it is malformed."""
    if authorization_header is None or not authorization_header.strip():
        return None
    scheme, _, rest = authorization_header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise Unauthorized("only Bearer tokens are accepted in the Authorization header")
    token = rest.lstrip(" ")
    if not token:
        raise Unauthorized("the Authorization header says Bearer but carries no token")
    if len(token) > MAX_TOKEN_LENGTH:
        raise Unauthorized("the bearer token is too long")
    if not _B64TOKEN.fullmatch(token):
        raise Unauthorized("the bearer token contains characters a token cannot have")
    return token


class TokenVerifier:
    """Checks tokens from the configured issuers. Blocking; thread-safe; call it from a worker thread."""

    def __init__(
        self,
        issuers: Sequence[TrustedIssuer],
        *,
        http: requests.Session | None = None,
        leeway: float = 30.0,
        clock: Callable[[], float] = time.time,
        timeout: float = 5.0,
    ) -> None:
        self._issuers: dict[str, TrustedIssuer] = {}
        for issuer in issuers:
            if issuer.issuer in self._issuers:
                raise ValueError(f"issuer {issuer.issuer} is configured twice")
            self._issuers[issuer.issuer] = issuer
        self._http = http or requests.Session()
        self._leeway = leeway
        self._clock = clock
        self._timeout = timeout
        self._discovery = Discovery(self._http, timeout=timeout, clock=clock)
        self._keys = KeySets(self._http, timeout=timeout, clock=clock)
        self._userinfo_cache: TokenCache[_Claims] = TokenCache()
        self._introspected: TokenCache[Identity] = TokenCache()
        self._verified: TokenCache[Identity] = TokenCache()
        self._in_flight = TokenLocks()

    @property
    def issuers(self) -> list[TrustedIssuer]:
        return list(self._issuers.values())

    def challenges(self) -> list[str]:
        """`WWW-Authenticate` values for a 401: plain Bearer, then where an IVOA client can get a token."""
        return ["Bearer"] + [
            f'ivoa_bearer standard_id="{IVOA_OPENID}", access_url="{issuer}"' for issuer in self._issuers
        ]

    def cached(self, token: str) -> Identity | None:
        """The identity of a token verified before and not yet expired; None otherwise. Never blocks, so the
        API can answer a client's repeated requests without a trip to a worker thread."""
        now = self._clock()
        return self._verified.get(token, now) or self._introspected.get(token, now)

    def verify(self, token: str) -> Identity:
        """The caller's identity, or `Unauthorized` with a reason safe to show them and to log.

        Concurrent calls with the same new token wait for the first one's answer instead of each asking the
        issuer (a client's first burst of requests would otherwise cost Check-in one userinfo call each)."""
        known = self.cached(token)
        if known is not None:
            return known
        with self._in_flight.hold(token):
            return self.cached(token) or self._verify_now(token)

    def _verify_now(self, token: str) -> Identity:
        shown_issuer = "-"
        try:
            if not token or len(token) > MAX_TOKEN_LENGTH:
                raise Unauthorized("no usable token")
            if token.count(".") != 2:
                identity = self._verify_opaque(token)
            else:
                header, unverified = _unverified(token)
                shown_issuer = shown(unverified.get("iss", "-"))
                identity = self._verify_jwt(token, header, self._trusted(unverified.get("iss")))
        except Unauthorized as exc:
            log.info("token_rejected issuer=%s reason=%s", shown_issuer, exc.message)
            raise Unauthorized(exc.message) from None
        except Exception as exc:  # noqa: BLE001 — a surprise must still be a 401, and must not quote the token
            log.error("token_check_failed issuer=%s error=%s", shown_issuer, type(exc).__name__)
            raise Unauthorized("token could not be checked") from None
        log.debug("token_accepted issuer=%s subject=%s", identity.issuer, shown(identity.subject))
        return identity

    def _trusted(self, iss: object) -> TrustedIssuer:
        if not isinstance(iss, str) or not iss:
            raise Unauthorized("token names no issuer")
        issuer = self._issuers.get(iss)
        if issuer is None:
            raise Unauthorized(f"issuer {shown(iss)} is not trusted here")
        return issuer

    def _verify_jwt(self, token: str, header: Mapping[str, Any], issuer: TrustedIssuer) -> Identity:
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALGORITHMS:
            raise Unauthorized(f"token signing algorithm {shown(alg, 16)} is not accepted")
        if kid is not None and not isinstance(kid, str):
            raise Unauthorized("token is malformed")
        metadata = self._discovery.metadata(issuer)
        key = self._keys.key(issuer.issuer, metadata.jwks_uri, kid, alg)
        try:
            claims = jwt.decode(token, key, algorithms=[alg], options=_SIGNATURE_ONLY)
        except InvalidSignatureError:
            raise Unauthorized("signature does not verify") from None
        except InvalidAlgorithmError:
            raise Unauthorized("token signing algorithm does not match the issuer's key") from None
        except PyJWTError:
            raise Unauthorized("token is malformed") from None
        now = self._clock()
        expires = _claims.check_times(claims, now, self._leeway)
        identity = self._identity(token, issuer, metadata, claims, expires)
        self._verified.put(token, identity, now, expires)  # a signed token stays valid until it expires
        return identity

    def _identity(
        self, token: str, issuer: TrustedIssuer, metadata: IssuerMetadata, claims: Mapping[str, Any], expires: float
    ) -> Identity:
        """Audience, subject, groups and entitlements: from the claims, else from userinfo."""
        _claims.check_audience(claims, issuer.audience)
        subject = _claims.subject(claims)
        entitlements, groups = _claims.entitlements(claims), _claims.groups(claims)
        if entitlements is None:
            entitlements, more_groups = self._userinfo(token, issuer, metadata, subject, expires)
            groups = groups or more_groups
        return Identity(issuer.issuer, subject, groups, entitlements)

    def _userinfo(
        self, token: str, issuer: TrustedIssuer, metadata: IssuerMetadata, subject: str, expires: float
    ) -> _Claims:
        if not issuer.userinfo or not metadata.userinfo_endpoint:
            return None, frozenset()
        cached = self._userinfo_cache.get(token, self._clock())
        if cached is not None:
            return cached
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        data = self._ask(issuer, "userinfo", "GET", metadata.userinfo_endpoint, headers=headers)
        if data.get("sub") != subject:
            raise Unauthorized(f"issuer {issuer.issuer} answered userinfo for another subject")
        found = (_claims.entitlements(data), _claims.groups(data))
        self._userinfo_cache.put(token, found, self._clock(), expires)
        return found

    def _verify_opaque(self, token: str) -> Identity:
        """Ask each issuer that lets us introspect, in configured order, until one says the token is active."""
        candidates = [i for i in self._issuers.values() if i.can_introspect]
        if not candidates:
            raise Unauthorized("token is not a JWT, and no trusted issuer is set up to introspect it")
        cached = self._introspected.get(token, self._clock())
        if cached is not None:
            return cached
        failures: list[str] = []
        for issuer in candidates:
            try:
                claims = self._introspect(token, issuer)
            except Unauthorized as exc:
                failures.append(exc.message)
                continue
            if claims is not None:
                return self._opaque_identity(token, issuer, claims)
        if len(failures) == len(candidates):
            raise Unauthorized(failures[0])
        raise Unauthorized("token is not active")

    def _introspect(self, token: str, issuer: TrustedIssuer) -> dict[str, Any] | None:
        metadata = self._discovery.metadata(issuer)
        if not metadata.introspection_endpoint:
            raise Unauthorized(f"issuer {issuer.issuer} offers no token introspection")
        assert issuer.client_id and issuer.client_secret  # can_introspect
        data = self._ask(
            issuer,
            "introspection",
            "POST",
            metadata.introspection_endpoint,
            data={"token": token, "token_type_hint": "access_token"},
            auth=(issuer.client_id, issuer.client_secret.get_secret_value()),
            headers={"Accept": "application/json"},
        )
        return data if data.get("active") is True else None

    def _opaque_identity(self, token: str, issuer: TrustedIssuer, claims: dict[str, Any]) -> Identity:
        if claims.get("iss", issuer.issuer) != issuer.issuer:
            raise Unauthorized(f"issuer {issuer.issuer} introspected a token of another issuer")
        now = self._clock()
        if "exp" in claims:
            expires = _claims.check_times(claims, now, self._leeway)
        else:  # RFC 7662 makes exp optional: "active" is the issuer's word for now; ask again in a minute
            expires = _claims.check_times({**claims, "exp": now + 60.0}, now, self._leeway)
        identity = self._identity(token, issuer, self._discovery.metadata(issuer), claims, expires)
        self._introspected.put(token, identity, now, expires)
        return identity

    def _ask(self, issuer: TrustedIssuer, what: str, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        """One call to an issuer's userinfo or introspection endpoint, its failures turned into plain 401s."""
        try:
            response = call(self._http, method, url, timeout=self._timeout, **kwargs)
            if response.status_code in (401, 403):
                log.warning("%s_refused issuer=%s status=%d", what, issuer.issuer, response.status_code)
                raise Unauthorized(f"issuer {issuer.issuer} refused the token at its {what} endpoint")
            if response.status_code != 200:
                raise Unreachable(f"HTTP {response.status_code}")
            return json_object(response)
        except Unreachable as exc:
            log.warning("%s_failed issuer=%s reason=%s", what, issuer.issuer, exc)
            raise Unauthorized(f"issuer {issuer.issuer} could not be reached ({what})") from None


#: Signature only: times, audience and subject are checked by `_claims`, with our clock and our messages.
_SIGNATURE_ONLY: Options = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and claims before any check: only to find the issuer and the key; trust nothing else in them."""
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except PyJWTError:
        raise Unauthorized("token is malformed") from None
    if not isinstance(claims, dict):
        raise Unauthorized("token is malformed")
    return header, claims

"""A fake OpenID Connect provider (and IVOA GMS) over real HTTP on loopback, for tests of token checking.

It serves discovery, JWKS, userinfo, RFC 7662 introspection (client-secret basic auth) and a GMS endpoint, signs
tokens with an RSA and an EC key made with `cryptography`, counts every call, and has knobs to misbehave: serve
another `issuer` in discovery, rotate its keys, be down (drop connections) or fail with an HTTP status, wholly
or one endpoint at a time (`broken`: "discovery", "jwks", "userinfo", "introspection", "gms").

Fixtures: `idp` (EGI Check-in style issuer, no trailing slash) and `iam_idp` (ESCAPE IAM style, trailing slash),
a fresh server per test. To use them from another test folder, import them in that folder's conftest.py:
`from auth.fake_idp import idp, iam_idp  # noqa: F401` (tests/ is on sys.path under pytest's default
"prepend" import mode, because tests/conftest.py sits in a directory without `__init__.py`).
"""

from __future__ import annotations

import base64
import functools
import json
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

CHECKIN_PATH = "/auth/realms/egi"


@functools.cache
def _rsa_key(index: int) -> rsa.RSAPrivateKey:
    """RSA keys are slow to make: each index is made once per test run and shared by every fake server."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _ec_key(curve: str) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1() if curve == "P-256" else ec.SECP384R1())


class ManualClock:
    """A clock tests move by hand (`clock.advance(60)`), to share between a verifier and the fake IdP."""

    def __init__(self, now: float | None = None) -> None:
        self.now = time.time() if now is None else now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeIdP:
    """One issuer. Mutate its public attributes between calls to change what it serves."""

    def __init__(
        self,
        *,
        path: str = CHECKIN_PATH,
        trailing_slash: bool = False,
        client_id: str = "execplanner",
        client_secret: str = "client-secret-for-tests",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.path = path.rstrip("/")
        self.issuer = self.base_url + self.path + ("/" if trailing_slash else "")
        self.client_id, self.client_secret = client_id, client_secret
        self.clock = clock
        # knobs
        self.discovery_issuer: str | None = None  # serve this `issuer` in discovery instead of the real one
        self.down = False  # drop every connection without answering
        self.fail_status: int | None = None  # answer every call with this status
        self.broken: dict[str, int | None] = {}  # endpoint name -> status to answer, or None to drop the connection
        self.entitlements: dict[str, list[str] | None] = {}  # userinfo per subject; None = claim left out
        self.userinfo_claims: dict[str, dict[str, Any]] = {}  # more userinfo claims per subject
        self.memberships: dict[str, list[str]] = {}  # GMS groups per subject
        # what happened
        self.calls: Counter[str] = Counter()
        self._rsa_index = 0
        self._opaque: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._revoked: set[str] = set()
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), name="fake-idp", daemon=True)

    # lifecycle

    @classmethod
    def start(cls, **options: Any) -> FakeIdP:
        idp = cls(**options)
        idp._thread.start()
        return idp

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeIdP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # keys and tokens

    @property
    def rsa_kid(self) -> str:
        return f"rsa-{self._rsa_index}"

    ec_kid = "ec-p256"
    ec384_kid = "ec-p384"

    def rotate_keys(self) -> str:
        """Replace the RSA signing key by a new one (the old one is no longer published); returns its kid."""
        self._rsa_index += 1
        return self.rsa_kid

    def jwks(self) -> dict[str, Any]:
        keys = [
            _public_jwk(_rsa_key(self._rsa_index), self.rsa_kid),
            _public_jwk(_ec_key("P-256"), self.ec_kid),
            _public_jwk(_ec_key("P-384"), self.ec384_kid),
        ]
        return {"keys": keys}

    def private_key(self, alg: str) -> Any:
        if alg.startswith("ES"):
            return _ec_key("P-384" if alg == "ES384" else "P-256")
        return _rsa_key(self._rsa_index)

    def public_pem(self) -> bytes:
        """The RSA public key in PEM, as an attacker would fetch it (for the HS256 confusion test)."""
        from cryptography.hazmat.primitives import serialization

        return (
            _rsa_key(self._rsa_index)
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )

    def mint(
        self,
        subject: str,
        *,
        alg: str = "RS256",
        kid: str | None = "default",
        lifetime: float = 300.0,
        key: Any = None,
        **claims: Any,
    ) -> str:
        """A signed access token; extra claims override the defaults, and a claim given as None is left out.

        Dotted claim names go through a dict: `idp.mint("alice", **{"wlcg.groups": ["/escape"]})`.
        """
        now = int(self.clock())
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "iat": now,
            "exp": now + int(lifetime),
            "jti": secrets.token_hex(8),
            "scope": "openid profile email",
        }
        payload.update(claims)
        payload = {k: v for k, v in payload.items() if v is not None}
        if kid == "default":
            kid = self.ec384_kid if alg == "ES384" else self.ec_kid if alg.startswith("ES") else self.rsa_kid
        headers = {"kid": kid} if kid is not None else {}
        return jwt.encode(payload, key if key is not None else self.private_key(alg), algorithm=alg, headers=headers)

    def opaque(self, subject: str, *, active: bool = True, lifetime: float = 300.0, **claims: Any) -> str:
        """An opaque access token this server will describe at introspection."""
        token = secrets.token_urlsafe(32)
        now = int(self.clock())
        record = {"active": active, "sub": subject, "iss": self.issuer, "exp": now + int(lifetime), "iat": now}
        record.update(claims)
        with self._lock:
            self._opaque[token] = {k: v for k, v in record.items() if v is not None}
        return token

    def revoke(self, token: str) -> None:
        """From now on userinfo, introspection and GMS treat `token` as invalid."""
        with self._lock:
            self._revoked.add(token)

    # what the endpoints answer

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.discovery_issuer or self.issuer,
            "jwks_uri": self.base_url + "/jwks",
            "userinfo_endpoint": self.base_url + "/userinfo",
            "introspection_endpoint": self.base_url + "/introspect",
            "authorization_endpoint": self.base_url + "/authorize",
            "token_endpoint": self.base_url + "/token",
            "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        }

    def subject_of(self, token: str) -> str | None:
        """Whose token this is, if it is one of ours and still valid."""
        with self._lock:
            record = self._opaque.get(token)
            if token in self._revoked:
                return None
        if record is not None:
            return record["sub"] if record["active"] and record["exp"] > self.clock() else None
        try:
            header = jwt.get_unverified_header(token)
            alg = header.get("alg", "")
            claims = jwt.decode(
                token,
                self.private_key(alg).public_key(),
                algorithms=[alg],
                options={"verify_aud": False, "verify_exp": False, "verify_iat": False},
            )
        except (jwt.PyJWTError, ValueError, TypeError):
            return None
        return claims.get("sub") if claims.get("exp", 0) > self.clock() else None

    def userinfo(self, subject: str) -> dict[str, Any]:
        answer: dict[str, Any] = {"sub": subject}
        if self.entitlements.get(subject) is not None:
            answer["eduperson_entitlement"] = self.entitlements[subject]
        answer.update(self.userinfo_claims.get(subject, {}))
        return answer

    def introspect(self, token: str) -> dict[str, Any]:
        with self._lock:
            record = None if token in self._revoked else self._opaque.get(token)
        if record is None or not record["active"] or record["exp"] <= self.clock():
            return {"active": False}
        return {**record, "client_id": "some-client", "token_type": "Bearer"}

    def check_client(self, authorization: str | None) -> bool:
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return authorization == f"Basic {expected}"


def _public_jwk(private_key: Any, kid: str) -> dict[str, Any]:
    algorithm = (
        jwt.algorithms.RSAAlgorithm if isinstance(private_key, rsa.RSAPrivateKey) else jwt.algorithms.ECAlgorithm
    )
    jwk = json.loads(algorithm.to_jwk(private_key.public_key()))
    return {**jwk, "kid": kid, "use": "sig"}


def _handler_for(idp: FakeIdP) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # an answer is two writes (head, then body) on a kept-alive connection: with Nagle's algorithm on, the
        # body waits for the client's delayed ACK of the head (tens of ms per call)
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # quiet: and never print a token
            pass

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

        def _route(self, method: str) -> None:
            url = urlsplit(self.path)
            if method == "GET" and url.path == idp.path + "/.well-known/openid-configuration":
                name: str | None = "discovery"
            else:
                name = _ENDPOINTS.get((method, url.path))
            idp.calls[name or "unknown"] += 1
            broken = name in idp.broken
            if idp.down or (broken and idp.broken[name or ""] is None):
                self.close_connection = True
                self.connection.close()
                return
            status = idp.broken.get(name or "") or idp.fail_status
            if status is not None:
                self._send(status, {"error": "server_error"})
                return
            if name is None:
                self._send(404, {"error": "not_found"})
                return
            getattr(self, "_" + name)(url.query)

        def _discovery(self, query: str) -> None:
            self._send(200, idp.discovery())

        def _jwks(self, query: str) -> None:
            self._send(200, idp.jwks())

        def _userinfo(self, query: str) -> None:
            subject = idp.subject_of(self._bearer())
            if subject is None:
                self._send(401, {"error": "invalid_token"})
                return
            self._send(200, idp.userinfo(subject))

        def _introspection(self, query: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            form = parse_qs(self.rfile.read(length).decode())
            if not idp.check_client(self.headers.get("authorization")):
                self._send(401, {"error": "invalid_client"})
                return
            self._send(200, idp.introspect(form.get("token", [""])[0]))

        def _gms(self, query: str) -> None:
            subject = idp.subject_of(self._bearer())
            if subject is None:
                self._send(401, {"error": "invalid_token"})
                return
            asked = parse_qs(query).get("group", [])
            have = idp.memberships.get(subject, [])
            lines = [g for g in have if not asked or g in asked]
            self._send(200, "".join(line + "\n" for line in lines), "text/plain; charset=utf-8")

        def _bearer(self) -> str:
            value = self.headers.get("authorization") or ""
            return value[7:] if value.lower().startswith("bearer ") else ""

        def _send(self, status: int, body: Any, content_type: str = "application/json") -> None:
            raw = (body if isinstance(body, str) else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    return Handler


_ENDPOINTS = {
    ("GET", "/jwks"): "jwks",
    ("GET", "/userinfo"): "userinfo",
    ("POST", "/introspect"): "introspection",
    ("GET", "/gms"): "gms",
}


@pytest.fixture
def idp() -> Iterator[FakeIdP]:
    """An EGI Check-in style issuer (`http://127.0.0.1:PORT/auth/realms/egi`, no trailing slash)."""
    with FakeIdP.start() as server:
        yield server


@pytest.fixture
def iam_idp() -> Iterator[FakeIdP]:
    """An ESCAPE IAM style issuer (`http://127.0.0.1:PORT/`, with its trailing slash)."""
    with FakeIdP.start(path="", trailing_slash=True) as server:
        yield server

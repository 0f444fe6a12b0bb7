"""The simulated EGI Check-in's token endpoint (Keycloak's path), refresh_token grant only: what a robot account
uses to get fresh access tokens. Each access token it issues is one the federation's Keystones accept (with the
grant's entitlements) until it expires; a revoked refresh token or a wrong client is refused as Keycloak does."""

from __future__ import annotations

import base64
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from execplanner.simcloud.federation import Federation

TOKEN_PATH = "/auth/realms/egi/protocol/openid-connect/token"


@dataclass
class RefreshGrant:
    """A refresh token of a robot account, issued to one OIDC client."""

    refresh_token: str = field(repr=False)
    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    name: str = "robot"
    entitlements: list[str] = field(default_factory=list)
    access_ttl: float = 300.0
    revoked: bool = False


@dataclass
class CheckIn:
    grants: dict[str, RefreshGrant] = field(default_factory=dict)
    issued: list[str] = field(default_factory=list, repr=False)  # access tokens, in order (tests inspect them)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def register(self, grant: RefreshGrant) -> RefreshGrant:
        with self.lock:
            self.grants[grant.refresh_token] = grant
        return grant

    def revoke(self, refresh_token: str) -> None:
        with self.lock:
            if refresh_token in self.grants:
                self.grants[refresh_token].revoked = True


def _client(request: Request, form: dict[str, str]) -> tuple[str | None, str | None]:
    """client_secret_basic (the Authorization header) or client_secret_post (form fields)."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None, None
        return unquote(client_id), unquote(secret)
    return form.get("client_id"), form.get("client_secret")


def _error(status: int, error: str, description: str) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)


async def token(request: Request) -> Response:
    federation: Federation = request.app.state.federation
    checkin = federation.checkin
    form = {k: v[0] for k, v in parse_qs((await request.body()).decode(errors="replace")).items()}
    if form.get("grant_type") != "refresh_token":
        return _error(400, "unsupported_grant_type", "Unsupported grant_type")
    client_id, client_secret = _client(request, form)
    with checkin.lock:
        grant = checkin.grants.get(form.get("refresh_token", ""))
    if grant is None or client_id != grant.client_id:
        return _error(400, "invalid_grant", "Invalid refresh token")
    if grant.client_secret is not None and not secrets.compare_digest(client_secret or "", grant.client_secret):
        return _error(401, "unauthorized_client", "Invalid client or Invalid client credentials")
    if grant.revoked:
        return _error(400, "invalid_grant", "Token is not active")
    access = "sim-at-" + secrets.token_urlsafe(24)
    federation.add_token(access, grant.entitlements, name=grant.name, expires_at=time.time() + grant.access_ttl)
    with checkin.lock:
        checkin.issued.append(access)
    body = {
        "access_token": access,
        "expires_in": int(grant.access_ttl) if grant.access_ttl >= 1 else grant.access_ttl,
        "refresh_expires_in": 0,  # an offline token, as a robot account's is
        "refresh_token": grant.refresh_token,
        "token_type": "Bearer",
        "scope": "openid profile eduperson_entitlement offline_access",
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def routes() -> list[Route]:
    return [Route(TOKEN_PATH, token, methods=["POST"])]

"""Who is calling: the bearer token (if any) checked against the trusted issuers, turned into the planner's
`Caller`, and the ownership rule for stored offer sets and sessions.

Without trusted issuers every caller is anonymous (a token sent anyway is ignored, since nothing here can
check it). With them, a token that is sent must verify — a bad token is a 401, never a quiet downgrade to
anonymous — and `require_token` makes the token compulsory.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from execplanner.auth import Identity, TokenVerifier, TrustedIssuer, bearer_token
from execplanner.config import Settings
from execplanner.errors import ExecPlannerError, Forbidden, Unauthorized
from execplanner.planner.plan import ANONYMOUS, Caller

log = logging.getLogger("execplanner.api")


def verifier_for(settings: Settings) -> TokenVerifier | None:
    """The token checker for the configured issuers (none: tokens are not checked); a bad issuer stops start-up."""
    if not settings.issuers:
        return None
    try:
        return TokenVerifier([TrustedIssuer(issuer, audience=settings.audience) for issuer in settings.issuers])
    except ValueError as exc:
        raise ExecPlannerError(f"invalid EXECPLANNER_ISSUERS: {exc}") from None


def caller_from(identity: Identity) -> Caller:
    vos = tuple(identity.vos())
    may_launch = None if identity.entitlements is None else {vo: bool(identity.can_launch(vo)) for vo in vos}
    return Caller(owner=identity.owner, vos=vos, may_launch=may_launch)


async def caller_of(request: Request) -> Caller:
    """The caller of this request; `Unauthorized` when a token is needed or does not verify."""
    state = request.app.state
    verifier: TokenVerifier | None = state.verifier
    token = bearer_token(request.headers.get("authorization")) if verifier is not None else None
    if token is None:
        if state.settings.require_token:
            raise Unauthorized("this service needs a bearer token from one of its trusted issuers")
        return ANONYMOUS
    assert verifier is not None
    identity = verifier.cached(token)
    if identity is None:
        identity = await run_in_threadpool(verifier.verify, token)
    caller = caller_from(identity)
    request.state.authenticated = caller.owner
    return caller


class AuthenticatedHeader:
    """Adds `X-VO-Authenticated: <subject@issuer>` to the answer of a request whose token was accepted, as IVOA
    SSO lets a service confirm to clients (pyvo among them) who it took them to be."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_identity(message: Message) -> None:
            who = scope.get("state", {}).get("authenticated") if message["type"] == "http.response.start" else None
            if who:  # subjects are printable (auth refuses others); non-ASCII ones are shown as '?'
                value = who.encode("ascii", "replace")
                message = {**message, "headers": [*message.get("headers", []), (b"x-vo-authenticated", value)]}
            await send(message)

        await self.app(scope, receive, send_with_identity)


def check_owner(caller: Caller, owner: str | None, what: str) -> None:
    """Whoever asked with a token owns what they were given; others may neither read nor steer it."""
    if owner is None or owner == caller.owner:
        return
    if caller.owner is None:
        raise Unauthorized(f"this {what} belongs to an authenticated user: send the bearer token it was made with")
    log.info("access_refused what=%s", what)
    raise Forbidden(f"this {what} belongs to another user")

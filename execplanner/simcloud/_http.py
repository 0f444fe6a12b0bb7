"""What every simulated API call shares: site lookup, the site's response delay, fault rules, token checks,
OpenStack-shaped error bodies, and saving state after a change."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from execplanner.simcloud.faults import BEFORE_CALL_KINDS, HOLD_KINDS, FaultRule
from execplanner.simcloud.records import Token
from execplanner.simcloud.state import SiteCloud

if TYPE_CHECKING:
    from execplanner.simcloud.federation import Federation

Service = Literal["identity", "compute", "image", "network", "volume", "sim"]
SIM_HEADER = (b"x-simulated-cloud", b"execplanner-simcloud")

_NOVA_KEYS = {
    400: "badRequest",
    403: "forbidden",
    404: "itemNotFound",
    409: "conflictingRequest",
    413: "overLimit",
    500: "computeFault",
    503: "serviceUnavailable",
}
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    413: "Request Entity Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
UNAUTHENTICATED = "The request you have made requires authentication."
VOLUME_QUOTA_EXCEEDED = (
    "VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. "
    "Requested 1G, quota is 0G and 0G has been consumed."
)


class ApiError(Exception):
    """An OpenStack API error; `kind` is Neutron's error type (e.g. OverQuota)."""

    def __init__(self, status: int, message: str, kind: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind


def iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_micro(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def error_response(service: Service, status: int, message: str, kind: str | None = None) -> JSONResponse:
    """The error body each service really sends, so openstacksdk extracts the same message."""
    title = _TITLES.get(status, "Error")
    if status == 401 or service in ("identity", "sim"):
        body: dict[str, Any] = {"error": {"code": status, "title": title, "message": message}}
    elif service in ("compute", "volume"):  # Cinder's error bodies are shaped like Nova's
        body = {_NOVA_KEYS.get(status, "computeFault"): {"code": status, "message": message}}
    elif service == "network":
        body = {"NeutronError": {"type": kind or title.replace(" ", ""), "message": message, "detail": ""}}
    else:
        body = {"code": status, "title": title, "message": message}
    return JSONResponse(body, status_code=status)


def fault_response(service: Service, rule: FaultRule) -> JSONResponse:
    if rule.kind == "quota":
        if service == "network":
            return error_response(
                service, 409, rule.message or "Quota exceeded for resources: ['floatingip'].", "OverQuota"
            )
        if service == "volume":
            return error_response(service, 413, rule.message or VOLUME_QUOTA_EXCEEDED)
        message = rule.message or "Quota exceeded for instances: Requested 1, but already used 0 of 0 instances"
        return error_response(service, 403 if service == "compute" else 413, message)
    if rule.kind == "pool_empty":
        message = rule.message or "No more IP addresses available on network."
        return error_response("network", 409, message, "IpAddressGenerationFailure")
    status = rule.status or 500
    return error_response(service, status, rule.message or f"Simulated fault: {_TITLES.get(status, 'error')}")


@dataclass
class Call:
    """One API call as an endpoint sees it."""

    request: Request
    federation: Federation
    site: SiteCloud
    name: str
    service: Service

    @property
    def base(self) -> str:
        """`http://host:port/SITE`, from the URL the client used, so any host name works."""
        return str(self.request.base_url).rstrip("/") + "/" + self.site.name

    async def body(self) -> dict[str, Any]:
        raw = await self.request.body()
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, f"Malformed request body: {exc}") from exc
        if not isinstance(data, dict):
            raise ApiError(400, "Malformed request body: expected a JSON object")
        return data

    def token(self) -> Token:
        """The caller's valid Keystone token, or 401."""
        token = self.site.live_token(self.request.headers.get("x-auth-token"))
        if token is None:
            raise ApiError(401, UNAUTHENTICATED)
        return token

    def project_token(self) -> Token:
        token = self.token()
        if token.project_id is None:
            raise ApiError(403, "A project-scoped token is required.")
        return token

    def query(self, name: str) -> str | None:
        return self.request.query_params.get(name)


Endpoint = Callable[[Call], Awaitable[Response]]


def sim_route(path: str, endpoint: Endpoint, methods: list[str], call: str, service: Service) -> Route:
    """A route under `/{site}/...` that behaves like the site: delay, faults, errors, persistence."""

    async def handle(request: Request) -> Response:
        federation: Federation = request.app.state.federation
        site = federation.sites.get(request.path_params["site"])
        if site is None:
            return error_response(service, 404, f"No simulated site named {request.path_params['site']!r}.")
        federation.calls[call] += 1
        if site.spec.response_delay > 0:
            await asyncio.sleep(site.spec.response_delay)
        rule = federation.faults.take(site.name, call, BEFORE_CALL_KINDS)
        if rule is not None and rule.kind not in HOLD_KINDS:
            return fault_response(service, rule)
        with federation.faults.holding() if rule is not None else contextlib.nullcontext():
            if rule is not None:  # the request is in (a client that gives up meanwhile changes nothing), then wait
                await request.body()
                await asyncio.sleep(rule.seconds)
            return await _served(request, endpoint, Call(request, federation, site, call, service))

    return Route(path, handle, methods=methods, name=call)


async def _served(request: Request, endpoint: Endpoint, call: Call) -> Response:
    """The endpoint's answer (an ApiError as the service's error body); state saved after a change."""
    try:
        response = await endpoint(call)
    except ApiError as exc:
        return error_response(call.service, exc.status, exc.message, exc.kind)
    if request.method not in ("GET", "HEAD"):
        call.federation.persist()
    await call.federation.faults.hold(call.site.name, call.name)  # a `pause` rule: done, but the answer waits
    return response


class SimulatedHeader:
    """ASGI middleware: every response says it comes from a simulator."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), SIM_HEADER]}
            await send(message)

        await self.app(scope, receive, send_with_header)

"""What every request leaves behind: a request id (the client's `X-Request-ID` if it is a sane one, else a new
one) echoed in the answer and stamped on every log line written while serving it, one `request` log line, and
the request counters and latency histogram by route template.

Only the method, the path's route template, the status and the time are recorded: never headers, bodies or
query strings, which is where tokens travel.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from execplanner import metrics
from execplanner.api.errors import on_unexpected
from execplanner.booking.identifiers import random_uuid
from execplanner.logs import REQUEST_ID

log = logging.getLogger("execplanner.http")

HEADER = b"x-request-id"
_SANE_ID = re.compile(rb"[A-Za-z0-9._:@/+=-]{1,128}\Z")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == HEADER and _SANE_ID.match(value):
            return value.decode()
    return random_uuid().hex


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"


async def _answer_unexpected(scope: Scope, receive: Receive, send: Send, exc: Exception) -> bool:
    """Send the service's 500 error document; False when an answer had already begun (nothing to do then)."""
    response = await on_unexpected(Request(scope, receive), exc)
    try:
        await response(scope, receive, send)
    except RuntimeError:
        return False
    return True


_SERIES: dict[tuple[str, str, int], tuple[Any, Any]] = {}
# The methods HTTP defines (RFC 9110, and PATCH): any other a client makes up is counted as "other", so that no
# client can add series to /metrics (each kept for the life of the process) by inventing methods.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"})


def _series(method: str, route: str, status: int) -> tuple[Any, Any]:
    """The request counter and latency histogram of one (method, route, status): looked up once, not on every
    request (prometheus_client's `labels()` takes a lock and checks its arguments each time)."""
    method = method if method in _METHODS else "other"
    key = (method, route, status)
    found = _SERIES.get(key)
    if found is None:
        found = metrics.REQUESTS.labels(method, route, str(status)), metrics.REQUEST_SECONDS.labels(method, route)
        _SERIES[key] = found  # bounded: known methods x route templates x status codes
    return found


class Observed:
    """Pure ASGI middleware (so the request id's context reaches handlers and their worker threads)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status, started_answer = 500, False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_answer
            if message["type"] == "http.response.start":
                status, started_answer = message["status"], True
                message = {**message, "headers": [*message.get("headers", []), (HEADER, request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as exc:  # answered here, inside the request's context, so the 500 carries its id too
            if started_answer or not await _answer_unexpected(scope, receive, send_with_id, exc):
                raise
        finally:
            elapsed = time.perf_counter() - started
            route, method = _route_of(scope), scope["method"]
            counted, timed = _series(method, route, status)
            counted.inc()
            timed.observe(elapsed)
            log.info(
                "request method=%s route=%s path=%s status=%d duration_ms=%.1f",
                method,
                route,
                scope["path"],
                status,
                elapsed * 1000,
            )
            REQUEST_ID.reset(token)

"""One place that turns errors into IVOA-style error documents, in the format the client asked for."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from execplanner.api.documents import respond
from execplanner.errors import ExecPlannerError, NotAcceptable, ServiceBusy
from execplanner.formats.encode import message_tree
from execplanner.formats.media import Format, format_for_accept
from execplanner.model.message import Message

log = logging.getLogger("execplanner.api")


def error_response(
    request: Request, status: int, text: str, details: list[str] | None = None, headers: dict[str, str] | None = None
) -> Response:
    try:
        fmt = format_for_accept(request.headers.get("accept"))
    except NotAcceptable:
        fmt = Format.JSON
    return respond(error_document(status, text, details), fmt, root="error", status=status, headers=headers)


def error_document(status: int, text: str, details: list[str] | None = None) -> dict[str, Any]:
    """The error document's tree (root element `error`): a status, its title, and one message per problem."""
    messages = [Message.error(text)] + [Message.error(detail) for detail in details or []]
    title = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    return {"status": status, "title": title, "messages": [message_tree(m) for m in messages]}


async def on_execplanner_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ExecPlannerError)
    if isinstance(exc, ServiceBusy):  # expected under a flood: one line each, not an error
        log.warning("request_refused_busy path=%s", request.url.path)
    elif exc.status >= 500:
        log.error("request_failed path=%s error=%s", request.url.path, exc.message)
    # a body refused before it was read whole (too large, too slow) leaves the connection unusable: close it
    headers = {"Connection": "close"} if exc.status in (408, 413) else None
    if isinstance(exc, ServiceBusy):
        headers = {"Retry-After": str(exc.retry_after)}
    response = error_response(request, exc.status, exc.message, exc.details, headers=headers)
    if exc.status == 401:
        verifier = getattr(request.app.state, "verifier", None)
        for challenge in verifier.challenges() if verifier is not None else ["Bearer"]:
            response.headers.append("WWW-Authenticate", challenge)
    return response


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    text = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404:
        text = f"nothing at {request.url.path}"
    elif exc.status_code == 405:
        text = f"method {request.method} is not allowed on {request.url.path}"
    return error_response(request, exc.status_code, text, headers=dict(exc.headers or {}))


async def on_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected_error path=%s", request.url.path)
    return error_response(request, 500, "internal error; the request was not carried out")


HANDLERS = {
    ExecPlannerError: on_execplanner_error,
    HTTPException: on_http_exception,
    Exception: on_unexpected,
}

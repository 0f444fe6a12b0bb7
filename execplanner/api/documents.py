"""Reading request bodies and writing responses in the negotiated format — the API's edge codecs.

The event loop only waits: a body is read under a deadline (a client trickling it is cut off with a 408), and
parsing and XSD validation run in a worker thread, bounded by the document limits and their own deadline.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import Response

from execplanner.config import Settings
from execplanner.errors import BodyTooLarge, DocumentTooCostly, RequestTimeout
from execplanner.formats import tree as wire
from execplanner.formats.bounds import DocumentLimits
from execplanner.formats.media import CONTENT_TYPES, Format, format_for_accept, format_of_content_type
from execplanner.formats.schemas import validate_xml

# Seconds past its own deadline that a parse may take before the request is answered without it (the worker
# notices its deadline between chunks and nodes; this only covers a single step that overruns).
_GRACE = 0.5


def document_limits(settings: Settings) -> DocumentLimits:
    return DocumentLimits(
        max_nodes=settings.max_document_nodes,
        max_depth=settings.max_document_depth,
        max_aliases=settings.max_yaml_aliases,
        max_characters=settings.max_body_bytes,
        seconds=settings.parse_timeout_seconds,
    )


async def read_body(request: Request, limit: int, timeout: float | None = None) -> bytes:
    """The whole body, refusing (413) as soon as it passes `limit` bytes — never buffering more — and (408) when it
    has not arrived whole within `timeout` seconds (the settings' `body_timeout_seconds` by default)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    if timeout is None:
        timeout = request.app.state.settings.body_timeout_seconds
    try:
        async with asyncio.timeout(timeout):
            return await _read_chunks(request, limit)
    except TimeoutError:
        raise RequestTimeout(f"the request body did not arrive within {timeout:g} s") from None


async def _read_chunks(request: Request, limit: int) -> bytes:
    size = 0
    chunks: list[bytes] = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(body: bytes, fmt: Format, root: str, limits: DocumentLimits, validate: bool) -> dict[str, Any]:
    tree = wire.parse(body, fmt, root=root, limits=limits)
    if validate and fmt is Format.XML:
        validate_xml(body, root, limits)
    return tree


async def parse_off_loop(
    body: bytes, fmt: Format, root: str, limits: DocumentLimits, *, validate: bool = False
) -> dict[str, Any]:
    """Parse (and for XML with `validate`, check against our XSD) in a worker thread, never waiting for it longer
    than the limits allow: a worker past its deadline is abandoned, and stops at its next check. The deadline runs
    from when a worker starts on it: time spent queued for a worker thread on a busy server is not the document's
    fault (a valid document once got this 400 under 400 concurrent clients)."""
    with anyio.CancelScope() as scope:

        def work() -> dict[str, Any]:
            anyio.from_thread.run_sync(_start_clock, scope, limits.seconds + _GRACE)
            return _parse(body, fmt, root, limits, validate)

        return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
    raise DocumentTooCostly(f"the document could not be read within {limits.seconds:g} s; refused")


def _start_clock(scope: anyio.CancelScope, seconds: float) -> None:
    scope.deadline = anyio.current_time() + seconds


async def read_document(
    request: Request, limit: int, root: str, *, validate: bool = False
) -> tuple[dict[str, Any], Format, bytes]:
    """The request's document as a tree whose every value is in range; `validate` checks XML against our XSD."""
    fmt = format_of_content_type(request.headers.get("content-type"))
    body = await read_body(request, limit)
    settings = request.app.state.settings
    tree = await parse_off_loop(body, fmt, root, document_limits(settings), validate=validate)
    return tree, fmt, body


def response_format(request: Request) -> Format:
    return format_for_accept(request.headers.get("accept"))


def respond(
    tree: dict[str, Any], fmt: Format, *, root: str, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body = wire.render(tree, fmt, root=root)
    merged = {"Vary": "Accept", **(headers or {})}
    return Response(body, status_code=status, media_type=CONTENT_TYPES[fmt], headers=merged)


def base_url(request: Request) -> str:
    configured = request.app.state.settings.base_url
    return (configured or str(request.base_url)).rstrip("/")

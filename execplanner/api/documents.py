"""Reading request bodies and writing responses in the negotiated format — the API's edge codecs."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from execplanner.errors import BodyTooLarge
from execplanner.formats import tree as wire
from execplanner.formats.media import CONTENT_TYPES, Format, format_for_accept, format_of_content_type


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing (413) as soon as it passes `limit` bytes — never buffering more."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    size = 0
    chunks: list[bytes] = []
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_document(request: Request, limit: int, root: str) -> tuple[dict[str, Any], Format, bytes]:
    fmt = format_of_content_type(request.headers.get("content-type"))
    body = await read_body(request, limit)
    return wire.parse(body, fmt, root=root), fmt, body


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

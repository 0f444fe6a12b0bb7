"""Reading request bodies and writing responses in the negotiated format — the API's edge codecs.

The event loop only waits: a body is read under a deadline (a client trickling it is cut off with a 408), and
parsing and XSD validation run off the loop, bounded by the document limits and their own deadline: a small body
in a worker thread, a body of `parse_process_min_bytes` or more in a parser process (api/workers.py), where
pure-Python parsing cannot hold the service's GIL. A JSON body of a few KB is the exception: it is read on the loop,
in less time than the hop to a worker thread takes.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import anyio
from starlette.requests import Request
from starlette.responses import Response

from execplanner.api.workers import WorkerPool, use_job_modules
from execplanner.config import Settings
from execplanner.errors import BodyTooLarge, DocumentTooCostly, RequestTimeout
from execplanner.formats import tree as wire
from execplanner.formats.bounds import DocumentLimits
from execplanner.formats.media import CONTENT_TYPES, Format, format_for_accept, format_of_content_type
from execplanner.formats.schemas import use_schema_dir, validate_xml, xsd

T = TypeVar("T")

# A JSON body up to this size is read on the event loop: orjson and the shape and value checks take tens of
# microseconds for it (a few hundred nodes at most), less than the two thread hops of reading it off the loop
# cost; YAML and XML, and larger JSON, are always read off the loop.
INLINE_JSON_BYTES = 4 * 1024

# Seconds past its own deadline that a parse may take before the request is answered without it (the worker
# notices its deadline between chunks and nodes; this only covers a single step that overruns).
_GRACE = 0.5
# The same for a parser process, which is killed past it: more room, since a refused document's nodes are freed
# before the refusal is sent (a 1 MB YAML list on a loaded machine took 0.5 s), and a kill costs a new process.
_PROCESS_GRACE = 1.5


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


# Modules whose functions run in parser processes: imported when a process starts, so that a job's deadline
# never pays for an import (execplanner.api.note took over a second on a loaded machine).
PARSER_JOB_MODULES = ("execplanner.api.documents", "execplanner.api.note")


def _prepare_parser_process(schema_dir: Path | None) -> None:
    """A parser process's first job: its job modules and the service's XSD, loaded before any deadline runs."""
    for name in PARSER_JOB_MODULES:
        importlib.import_module(name)
    use_schema_dir(schema_dir)
    xsd()


def parser_pool(settings: Settings) -> WorkerPool | None:
    """The pool large bodies are parsed in (None when `parse_processes` is 0: every body in a thread)."""
    if settings.parse_processes == 0:
        return None
    use_job_modules(PARSER_JOB_MODULES)
    return WorkerPool(
        settings.parse_processes, _prepare_parser_process, settings.schema_dir, queue=settings.parse_queue_length
    )


def parsers_for(request: Request, size: int) -> WorkerPool | None:
    """The parser pool for a body of `size` bytes, or None for a small body: a thread reads it in less time than
    a process round trip costs, and holds the GIL too briefly to delay other requests."""
    if size < request.app.state.settings.parse_process_min_bytes:
        return None
    return getattr(request.app.state, "parsers", None)


async def run_off_loop(seconds: float, function: Callable[..., T], *args: Any, pool: WorkerPool | None = None) -> T:
    """`function(*args)`, the CPU-bound reading of a body, in a process of `pool` (when given) or a worker
    thread, never waiting for it longer than `seconds` past when a worker starts on it: a thread past it is
    abandoned (it stops at its parser's next check of the deadline), a process is killed. The deadline runs from
    when a worker starts: time queued behind busy workers is not the document's fault (a valid document once got
    this 400 under 400 concurrent clients)."""
    refusal = DocumentTooCostly(f"the document could not be read within {seconds:g} s; refused")
    if pool is not None:
        try:
            return await pool.run(seconds + _PROCESS_GRACE, function, *args)
        except TimeoutError:
            raise refusal from None
    with anyio.CancelScope() as scope:

        def work() -> T:
            anyio.from_thread.run_sync(_start_clock, scope, seconds + _GRACE)
            return function(*args)

        return await anyio.to_thread.run_sync(work, abandon_on_cancel=True)
    raise refusal


async def parse_off_loop(
    body: bytes,
    fmt: Format,
    root: str,
    limits: DocumentLimits,
    *,
    validate: bool = False,
    pool: WorkerPool | None = None,
) -> dict[str, Any]:
    """Parse (and for XML with `validate`, check against our XSD) off the event loop, within `limits.seconds`."""
    return await run_off_loop(limits.seconds, _parse, body, fmt, root, limits, validate, pool=pool)


def _start_clock(scope: anyio.CancelScope, seconds: float) -> None:
    scope.deadline = anyio.current_time() + seconds


async def read_document(
    request: Request, limit: int, root: str, *, validate: bool = False
) -> tuple[dict[str, Any], Format, bytes]:
    """The request's document as a tree whose every value is in range; `validate` checks XML against our XSD."""
    fmt = format_of_content_type(request.headers.get("content-type"))
    body = await read_body(request, limit)
    settings = request.app.state.settings
    limits = document_limits(settings)
    if fmt is Format.JSON and len(body) <= INLINE_JSON_BYTES:
        return _parse(body, fmt, root, limits, validate), fmt, body
    tree = await parse_off_loop(body, fmt, root, limits, validate=validate, pool=parsers_for(request, len(body)))
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

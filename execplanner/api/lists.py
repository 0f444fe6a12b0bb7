"""`GET /sessions` and `GET /offersets`: what the caller was given, newest first, a page at a time.

Each item is written exactly as `GET /sessions/{uuid}` or `GET /offersets/{uuid}` writes it. Callers see their
own rows (anonymous callers the anonymous ones); the operator (admin token) sees everyone's. Query parameters
are checked strictly: a bad value or an unknown name is a 400 naming the parameter, never an empty list.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from execplanner.api.caller import caller_of
from execplanner.api.documents import base_url, respond, response_format
from execplanner.api.operator import is_operator
from execplanner.booking import listing as service
from execplanner.booking.listing import EVERYONE, Listing, Page, Position
from execplanner.errors import InvalidRequest
from execplanner.formats import decode, encode
from execplanner.formats.iso8601 import in_utc
from execplanner.formats.media import Format
from execplanner.lifecycle.transitions import client_options
from execplanner.model.phase import Phase, parse_phase

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
PARAMETERS = ("phase", "site", "vo", "since", "until", "limit", "cursor")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _bad(name: str, why: str) -> InvalidRequest:
    return InvalidRequest(f"query parameter '{name}': {why}")


def _one(request: Request, name: str) -> str | None:
    values = request.query_params.getlist(name)
    if len(values) > 1:
        raise _bad(name, "give it once")
    return values[0] if values else None


def _phases(request: Request) -> tuple[Phase, ...]:
    found: list[Phase] = []
    for value in request.query_params.getlist("phase"):
        for word in value.split(","):
            try:
                found.append(parse_phase(word))
            except ValueError:
                known = ", ".join(p.value for p in Phase)
                raise _bad("phase", f"'{word.strip()[:64]}' is not a phase; phases are {known}") from None
    return tuple(dict.fromkeys(found))


def _name(request: Request, name: str) -> str | None:
    value = _one(request, name)
    if value is None:
        return None
    if not value.strip() or len(value) > 128 or _CONTROL.search(value):
        raise _bad(name, "a site or VO name is 1 to 128 printable characters")
    return value


def _instant(request: Request, name: str) -> datetime | None:
    value = _one(request, name)
    if value is None:
        return None
    try:
        return in_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        raise _bad(name, f"'{value[:64]}' is not an ISO 8601 date or time, e.g. 2026-12-01T09:00:00Z") from None
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is in the year 10000 in UTC, which no datetime holds
        raise _bad(name, f"'{value[:64]}' is outside the years 1 to 9999 in UTC") from None


def _limit(request: Request) -> int:
    value = _one(request, "limit")
    if value is None:
        return DEFAULT_LIMIT
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= MAX_LIMIT:  # not ٣, which int() reads
        raise _bad("limit", f"a whole number from 1 to {MAX_LIMIT}")
    return int(value)


def encode_cursor(position: Position) -> str:
    """Opaque to clients: the end of a page, URL-safe."""
    raw = json.dumps({"c": position.created.isoformat(), "u": position.uuid}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str) -> Position:
    try:
        raw = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        created = datetime.fromisoformat(raw["c"])
        uuid = str(UUID(raw["u"]))
        if created.tzinfo is None:
            raise ValueError("a cursor's instant has its zone")
        created = in_utc(created)
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError, OverflowError):
        raise _bad("cursor", "not a cursor this service gave out; start again without it") from None
    return Position(created, uuid)


def listing_of(request: Request, owner: Any) -> Listing:
    """The typed query behind a list request's parameters; `InvalidRequest` names the first bad one."""
    unknown = sorted(set(request.query_params) - set(PARAMETERS))
    if unknown:
        raise _bad(unknown[0][:64], f"not known here; the parameters are {', '.join(PARAMETERS)}")
    cursor = _one(request, "cursor")
    since, until = _instant(request, "since"), _instant(request, "until")
    if since and until and since >= until:
        raise _bad("until", "must be later than since")
    return Listing(
        owner=owner,
        phases=_phases(request),
        site=_name(request, "site"),
        vo=_name(request, "vo"),
        since=since,
        until=until,
        after=decode_cursor(cursor) if cursor else None,
        limit=_limit(request),
    )


async def whose(request: Request) -> Any:
    """The owner filter for this caller: everyone for the operator, else the caller's own (None: anonymous)."""
    if is_operator(request):
        return EVERYONE
    return (await caller_of(request)).owner


def _next_link(request: Request, cursor: str | None) -> dict[str, str]:
    if cursor is None:
        return {}
    query = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"] + [("cursor", cursor)]
    return {"Link": f'<{base_url(request)}{request.url.path}?{urlencode(query)}>; rel="next"'}


def _answer(request: Request, fmt: Format, kind: str, item: str, trees: list[dict[str, Any]], page: Page) -> Response:
    cursor = encode_cursor(page.next) if page.next else None
    # in XML the items repeat under the root: <sessions><execution/>…<cursor/></sessions>
    document = {item if fmt is Format.XML else kind: trees, "cursor": cursor}
    return respond(document, fmt, root=kind, headers=_next_link(request, cursor))


async def list_sessions(request: Request) -> Response:
    fmt = response_format(request)
    query = listing_of(request, await whose(request))
    page = await run_in_threadpool(service.find_sessions, request.app.state.store, query)
    url = base_url(request)
    trees = [encode.session_tree(s, url, client_options(s.phase)) for s in page.items]
    return _answer(request, fmt, "sessions", decode.ROOT_SESSION, trees, page)


async def list_offersets(request: Request) -> Response:
    fmt = response_format(request)
    query = listing_of(request, await whose(request))
    page = await run_in_threadpool(service.find_offersets, request.app.state.store, query)
    url = base_url(request)
    trees = [encode.offerset_tree(o, url, lambda s: client_options(s.phase)) for o in page.items]
    return _answer(request, fmt, "offersets", decode.ROOT_OFFERSET, trees, page)


routes = [
    Route("/sessions", list_sessions, methods=["GET"]),
    Route("/offersets", list_offersets, methods=["GET"]),
]

"""The dashboard: server-rendered pages (Jinja2 templates in `templates/`, CSS and a little script in `static/`,
all served from here, nothing from elsewhere) for people who would rather click than curl.

`/` shows the ask form, the caller's offer sets and sessions and the catalogue with what is held on each site;
`/ui/offersets/{uuid}` the offers, each with an Accept button; `/ui/sessions/{uuid}` a session's phase history,
access links and the moves it allows; `/ui/catalogue` every flavor, image and network. Pages are owner-scoped
exactly like the API (the caller's bearer token, the operator's admin token). Errors are pages that say what
went wrong in words, never a JSON document or a stack trace.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlparse
from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from execplanner import metrics
from execplanner.api import dashboard_view as view
from execplanner.api.ask_form import AskForm
from execplanner.api.broker import after_change
from execplanner.api.caller import caller_of, check_owner
from execplanner.api.documents import base_url, read_body
from execplanner.api.lists import whose
from execplanner.api.operator import is_operator
from execplanner.booking import Ask, reading
from execplanner.booking import sessions as booked
from execplanner.booking.listing import EVERYONE, Listing, find_offersets, find_sessions, holds, story
from execplanner.errors import ExecPlannerError, Forbidden, InvalidRequest, NotFound
from execplanner.executables.protocol import describe_inline
from execplanner.formats import bounds, decode, uris
from execplanner.lifecycle.transitions import client_options
from execplanner.model.phase import parse_phase

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
TEMPLATES.env.filters.update(view.FILTERS)
FORM_LIMIT = 16 * 1024

Handler = Callable[[Request], Awaitable[Response]]


def _error_page(request: Request, status: int, message: str, details: list[str]) -> Response:
    context = {"status": status, "message": message, "details": details}
    return TEMPLATES.TemplateResponse(request, "error.html", context, status_code=status)


def page(handler: Handler) -> Handler:
    """Errors raised while building a page become a page that says what went wrong."""

    @functools.wraps(handler)
    async def render(request: Request) -> Response:
        try:
            return await handler(request)
        except ExecPlannerError as exc:
            return _error_page(request, exc.status, exc.message, exc.details)

    return render


def _uuid(request: Request) -> UUID:
    try:
        return UUID(request.path_params["uuid"])
    except ValueError:
        raise NotFound(f"'{request.path_params['uuid'][:64]}' is not the identifier of anything here") from None


async def _may_see(request: Request, owner: str | None, what: str) -> None:
    if not is_operator(request):
        check_owner(await caller_of(request), owner, what)


def _same_origin(request: Request) -> None:
    """A form may be sent only from this service's own pages (no cross-site form posts)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin and urlparse(origin).netloc != request.url.netloc:
        raise Forbidden("this form can only be sent from this service's own pages")


async def _form(request: Request) -> dict[str, str]:
    body = await read_body(request, FORM_LIMIT)
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


async def _home(request: Request, form: AskForm, status: int = 200) -> Response:
    owner = await whose(request)
    store = request.app.state.store

    def read() -> tuple[Any, Any, Any]:
        return (
            find_offersets(store, Listing(owner=owner, limit=10)),
            find_sessions(store, Listing(owner=owner, limit=20)),
            holds(store, datetime.now(UTC)),
        )

    offersets, sessions, held = await run_in_threadpool(read)
    context = {
        "form": form,
        "operator": owner is EVERYONE,
        "offersets": offersets.items,
        "sessions": sessions.items,
        "catalogue": request.app.state.catalogue(),
        "sites": view.site_rows(request.app.state.catalogue(), held),
    }
    return TEMPLATES.TemplateResponse(request, "home.html", context, status_code=status)


@page
async def home(request: Request) -> Response:
    return await _home(request, AskForm())


@page
async def ask(request: Request) -> Response:
    _same_origin(request)
    caller = await caller_of(request)
    form = AskForm.from_form(await _form(request))
    tree = form.request_tree()
    if tree is None:
        return await _home(request, form, status=400)
    try:
        bounds.check_values(tree)  # what every API body is held to, so the request reads back in every format
        offer_request = describe_inline(decode.read_offerset_request(tree))
    except InvalidRequest as exc:
        form.errors["location"] = exc.message
        return await _home(request, form, status=400)
    state = request.app.state
    expiry = timedelta(seconds=state.settings.offer_expiry_seconds)
    offerset = await state.writer.submit(Ask(offer_request, datetime.now(UTC), expiry, caller))
    metrics.OFFERS.labels("made").inc(len(offerset.offers))
    return RedirectResponse(f"{base_url(request)}/ui/offersets/{offerset.uuid}", status_code=303)


@page
async def offerset_page(request: Request) -> Response:
    uuid = _uuid(request)
    offerset, owner = await run_in_threadpool(reading.offerset, request.app.state.store, uuid)
    if offerset is None:
        raise NotFound(f"there is no offer set {uuid}")
    await _may_see(request, owner, "offer set")
    return TEMPLATES.TemplateResponse(request, "offerset.html", {"offerset": offerset, "now": datetime.now(UTC)})


@page
async def session_page(request: Request) -> Response:
    uuid = _uuid(request)
    session, owner, history = await run_in_threadpool(story, request.app.state.store, uuid)
    if session is None:
        raise NotFound(f"there is no session {uuid}")
    await _may_see(request, owner, "session")
    context = {
        "session": session,
        "history": history,
        "options": client_options(session.phase),
        "access": view.access_links(session),
    }
    return TEMPLATES.TemplateResponse(request, "session.html", context)


@page
async def move_session(request: Request) -> Response:
    _same_origin(request)
    uuid = _uuid(request)
    caller = await caller_of(request)
    form = await _form(request)
    try:
        phase = parse_phase(form.get("phase", ""))
    except ValueError:
        raise InvalidRequest("choose accept, reject or cancel") from None
    update = decode.read_update({"kind": uris.ENUM_UPDATE, "path": "phase", "value": phase.value})

    def authorise(owner: str | None) -> None:  # the operator sees every session, but only owners steer theirs
        check_owner(caller, owner, "session")

    session = await run_in_threadpool(
        booked.update, request.app.state.store, uuid, update, datetime.now(UTC), authorise
    )
    await after_change(request, session, caller)  # as an accept or cancel through the API
    return RedirectResponse(f"{base_url(request)}/ui/sessions/{uuid}", status_code=303)


@page
async def catalogue_page(request: Request) -> Response:
    catalogue = request.app.state.catalogue()
    return TEMPLATES.TemplateResponse(request, "catalogue.html", {"catalogue": catalogue})


routes = [
    Route("/", home, methods=["GET"]),
    Route("/ui/ask", ask, methods=["POST"]),
    Route("/ui/catalogue", catalogue_page, methods=["GET"]),
    Route("/ui/offersets/{uuid}", offerset_page, methods=["GET"]),
    Route("/ui/sessions/{uuid}", session_page, methods=["GET"]),
    Route("/ui/sessions/{uuid}", move_session, methods=["POST"]),
]

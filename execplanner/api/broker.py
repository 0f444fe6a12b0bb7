"""ExecutionBroker endpoints: offer sets (`/offersets`, `/requests`), sessions, direct execution."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from execplanner import metrics
from execplanner.api.caller import caller_of, check_owner
from execplanner.api.documents import base_url, read_document, respond, response_format
from execplanner.auth import bearer_token
from execplanner.booking import Ask, Replayed, book_direct, made_with, reading, record_refusal
from execplanner.booking import sessions as booked
from execplanner.errors import IllegalTransition, InvalidRequest, NotFound
from execplanner.executables.protocol import describe_inline
from execplanner.formats import decode, encode
from execplanner.formats.media import Format
from execplanner.lifecycle.transitions import client_options
from execplanner.model.documents import OfferSet, OfferSetRequest, Session
from execplanner.model.idempotency import IdempotencyKey
from execplanner.model.message import Message
from execplanner.model.phase import Phase
from execplanner.planner.plan import Caller
from execplanner.store.database import Store

log = logging.getLogger("execplanner.api")
T = TypeVar("T")


def _now() -> datetime:
    return datetime.now(UTC)


def _uuid(request: Request) -> UUID:
    try:
        return UUID(request.path_params["uuid"])
    except ValueError as exc:
        raise NotFound(f"'{request.path_params['uuid']}' is not a known identifier") from exc


def _options(session: Session) -> tuple:
    return client_options(session.phase)


def _offerset_response(request: Request, offerset: OfferSet, fmt: Format, status: int = 200) -> Response:
    url = base_url(request)
    headers = {"Location": f"{url}/offersets/{offerset.uuid}"} if status == 303 else None
    tree = encode.offerset_tree(offerset, url, _options)
    return respond(tree, fmt, root=decode.ROOT_OFFERSET, status=status, headers=headers)


def _session_response(request: Request, session: Session, fmt: Format, status: int = 200) -> Response:
    url = base_url(request)
    headers = {"Location": f"{url}/sessions/{session.uuid}"} if status == 303 else None
    tree = encode.session_tree(session, url, _options(session))
    return respond(tree, fmt, root=decode.ROOT_SESSION, status=status, headers=headers)


@dataclass(frozen=True)
class _Asked:
    """An offer-set request as read: the request (None when it names an executable we cannot run, with the
    reasons), its tree, and the body it came in."""

    request: OfferSetRequest | None
    tree: dict[str, Any]
    reasons: list[Message]
    body: bytes


async def _read_request(request: Request) -> _Asked:
    settings = request.app.state.settings
    tree, _fmt, body = await read_document(request, settings.max_body_bytes, decode.ROOT_REQUEST, validate=True)
    try:
        return _Asked(describe_inline(decode.read_offerset_request(tree)), tree, [], body)
    except decode.UnknownExecutableType as exc:
        reason = Message.error(
            "unknown executable type '{type}': this service runs jupyter-notebook, docker-container, "
            "singularity-container, docker-compose, binder-repository and snakemake-workflow executables",
            type=exc.uri,
        )
        return _Asked(None, tree, [reason], body)


# The key's characters: those of X-Request-ID (a UUID, a ULID, base64 all fit); the IETF draft's quoted form is
# accepted too.
_KEY = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}\Z")


def _key_sent(request: Request) -> str | None:
    """The Idempotency-Key header's value, checked before the body is read (400 when it is not a key)."""
    values = request.headers.getlist("idempotency-key")
    if not values:
        return None
    value = values[0].strip(" \t")  # what HTTP calls whitespace; str.strip() would take NBSP, NEL, 0x1c-0x1f too
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    if len(values) > 1 or not _KEY.match(value):
        raise InvalidRequest(
            "Idempotency-Key must be one value of 1 to 128 characters from A-Z a-z 0-9 . _ : @ / + = - "
            "(a UUID, say), bare or in double quotes"
        )
    return value


def _key(sent: str | None, caller: Caller, route: str, body: bytes) -> IdempotencyKey | None:
    if sent is None:
        return None
    return IdempotencyKey(caller.owner or "", route, sent, hashlib.sha256(body).hexdigest())


async def post_offerset(request: Request) -> Response:
    fmt = response_format(request)
    state = request.app.state
    sent = _key_sent(request)
    caller = await caller_of(request)
    asked = await _read_request(request)
    key = _key(sent, caller, "offersets", asked.body)
    if asked.request is None:
        earlier = await _made_earlier(request, key, reading.offerset)
        if earlier is not None:
            return _offerset_response(request, earlier, fmt, status=303)
        dialect = decode.detect_dialect(asked.tree)
        name = decode.request_name(asked.tree)
        offerset = await run_in_threadpool(
            record_refusal, state.store, name, dialect, asked.reasons, _now(), asked.tree, caller.owner
        )
    else:
        expiry = timedelta(seconds=state.settings.offer_expiry_seconds)
        made = await state.writer.submit(Ask(asked.request, _now(), expiry, caller, key))
        if isinstance(made, Replayed):
            return _offerset_response(request, made.made, fmt, status=303)
        offerset = made
        metrics.OFFERS.labels("made").inc(len(offerset.offers))
    return _offerset_response(request, offerset, fmt, status=303)


async def _made_earlier(
    request: Request, key: IdempotencyKey | None, find: Callable[[Store, UUID], tuple[T | None, str | None]]
) -> T | None:
    """For a request refused before booking (so not remembered under its key): what an earlier request with the
    same key made, to be shown again; 422 when that request had another body, as for any reused key."""
    if key is None:
        return None
    store = request.app.state.store

    def earlier() -> T | None:
        made = made_with(store, key)
        return find(store, made)[0] if made is not None else None

    return await run_in_threadpool(earlier)


async def _load(
    request: Request,
    find: Callable[[Store, UUID], tuple[T | None, str | None]],
    what: str,
) -> T:
    """Read one stored document by the uuid in the path: 404 when there is none, 401/403 when it is not the
    caller's."""
    uuid = _uuid(request)
    caller = await caller_of(request)

    found, owner = await run_in_threadpool(find, request.app.state.store, uuid)
    if found is None:
        raise NotFound(f"no {what} {uuid}")
    check_owner(caller, owner, what)
    return found


async def get_offerset(request: Request) -> Response:
    fmt = response_format(request)
    offerset = await _load(request, reading.offerset, "offer set")
    return _offerset_response(request, offerset, fmt)


async def get_session(request: Request) -> Response:
    fmt = response_format(request)
    session = await _load(request, reading.session, "session")
    _owner_called(request, session, await caller_of(request))
    return _session_response(request, session, fmt)


def _owner_called(request: Request, session: Session, caller: Caller) -> None:
    """The owner's token may delete what their session's own credential could not (docs/operator.md)."""
    if caller.owner:
        request.app.state.launching.owner_called(session, bearer_token(request.headers.get("authorization")))


async def post_session(request: Request) -> Response:
    fmt = response_format(request)
    uuid = _uuid(request)
    caller = await caller_of(request)
    settings = request.app.state.settings
    tree, _fmt, _body = await read_document(request, settings.max_body_bytes, decode.ROOT_UPDATE, validate=True)
    update = decode.read_update(tree)
    dialect = decode.detect_dialect(tree)

    def authorise(owner: str | None) -> None:
        check_owner(caller, owner, "session")

    store = request.app.state.store
    try:
        session = await run_in_threadpool(booked.update, store, uuid, update, _now(), authorise)
    except IllegalTransition as exc:  # a 409 in the client's own phase names (a 2025 client reads READY)
        raise IllegalTransition(encode.in_dialect(exc.message, dialect)) from exc
    session = await after_change(request, session, caller)
    return _session_response(request, session, fmt)


async def after_change(request: Request, session: Session, caller: Caller) -> Session:
    """What follows a client's phase change, asked here or on the dashboard alike: an accepted session's launch
    gets its credential from the caller's token and the driver starts it at once; a session its owner ended has
    its per-user credential deleted with the owner's token."""
    if session.phase is Phase.ACCEPTED:
        session = await _accepted(request, session, caller)
    _owner_called(request, session, caller)
    return session


async def _accepted(request: Request, session: Session, caller: Caller) -> Session:
    """Give the launch its credential while the caller's token is still valid (docs/operator.md)."""
    token = bearer_token(request.headers.get("authorization")) if caller.owner else None
    state = request.app.state
    await run_in_threadpool(state.launching.accepted, session, token, caller.owner)
    if state.launching.users is None:
        return session
    found, _ = await run_in_threadpool(reading.session, state.store, session.uuid)
    return found or session


async def post_direct(request: Request) -> Response:
    fmt = response_format(request)
    state = request.app.state
    sent = _key_sent(request)
    caller = await caller_of(request)
    asked = await _read_request(request)
    offer_request = asked.request
    key = _key(sent, caller, "direct", asked.body)
    if offer_request is None:
        earlier = await _made_earlier(request, key, reading.session)
        if earlier is not None:
            return _session_response(request, earlier, fmt, status=303)
        raise InvalidRequest(asked.reasons[0].message)
    booked = await run_in_threadpool(
        lambda: book_direct(state.store, offer_request, state.planner, _now(), caller=caller, key=key)
    )
    if isinstance(booked, Replayed):  # launched (or launching) already, with the credential it was given then
        return _session_response(request, booked.made, fmt, status=303)
    session = await _accepted(request, booked, caller)
    return _session_response(request, session, fmt, status=303)


routes = [
    Route("/offersets", post_offerset, methods=["POST"]),
    Route("/requests", post_offerset, methods=["POST"]),
    Route("/offersets/{uuid}", get_offerset, methods=["GET"]),
    Route("/sessions", post_direct, methods=["POST"]),
    Route("/direct", post_direct, methods=["POST"]),
    Route("/sessions/{uuid}", get_session, methods=["GET"]),
    Route("/sessions/{uuid}", post_session, methods=["POST"]),
]

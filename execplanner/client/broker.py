"""`BrokerClient`: the calls of the ExecutionBroker protocol, each answered with a typed view or one clear error.

Every failure is an `execplanner.errors.ClientError`: `ServiceUnreachable` when no HTTP answer came (refused,
unknown host, TLS, timeout — said in a few words, never urllib3's), `ServiceRefused` when the service answered
4xx/5xx (its status and its own messages)."""

from __future__ import annotations

import socket
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

import requests

from execplanner.client.address import base_url
from execplanner.client.views import OfferSetView, SessionView
from execplanner.errors import ClientError, ServiceRefused, ServiceUnreachable

T = TypeVar("T")
UPDATE = "uri:enum-value-update"


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list; `cursor` fetches the next (None: this was the last)."""

    items: list[T]
    cursor: str | None
    document: dict[str, Any]


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost error under requests' and urllib3's wrappers (a refused connection, an unknown name)."""
    seen: set[int] = set()
    current: BaseException = exc
    while id(current) not in seen:
        seen.add(id(current))
        inner = getattr(current, "reason", None)
        if not isinstance(inner, BaseException):
            inner = current.__cause__ or current.__context__
        if not isinstance(inner, BaseException):
            inner = next((arg for arg in current.args if isinstance(arg, BaseException)), None)
        if inner is None:
            break
        current = inner
    return current


def unreachable_reason(exc: requests.RequestException, timeout: float) -> str:
    """A few words for why no answer came."""
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS failed: " + (str(_root_cause(exc)).split(" (_ssl")[0] or "handshake refused")
    if isinstance(exc, requests.Timeout):
        return f"no answer within {timeout:g} s"
    cause = _root_cause(exc)
    if isinstance(cause, socket.gaierror) or "NameResolution" in type(cause).__name__:
        return "unknown host name"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror[:1].lower() + cause.strerror[1:]
    return " ".join(str(cause).split(": ")[-1].split())[:200] or type(cause).__name__


def _said(answer: requests.Response) -> list[str]:
    """What the answer says, in its own words: an error document's messages (or title), else a short text body
    (an HTML page from a proxy says nothing useful on one line)."""
    content_type = answer.headers.get("Content-Type", "")
    if "json" not in content_type:
        text = " ".join(answer.text.split())
        return [text[:200]] if text and "html" not in content_type else []
    try:
        document = answer.json()
    except ValueError:
        return []
    if not isinstance(document, dict):
        return []
    messages = [m.get("message") for m in document.get("messages") or [] if isinstance(m, dict)]
    said = [str(message) for message in messages if message]
    return said or ([str(document["title"])] if document.get("title") else [])


def _refusal(answer: requests.Response) -> ServiceRefused:
    """The service's error document (or whatever a proxy answered) as one line."""
    head = f"{answer.status_code} {answer.reason or ''}".strip()
    said = _said(answer)
    details = f": {'; '.join(said)}" if said else ""
    return ServiceRefused(f"{answer.request.method} {answer.url}: {head}{details}", status=answer.status_code)


class BrokerClient:
    """Talks to one service at `url` (scheme optional: `127.0.0.1:8080` is understood) as the bearer of `token`."""

    def __init__(
        self, url: str, token: str | None = None, timeout: float = 60.0, session: requests.Session | None = None
    ) -> None:
        self.url = base_url(url)
        self.timeout = timeout
        self._http = session or requests.Session()
        self._http.headers["Accept"] = "application/json"
        if token:
            self._http.headers["Authorization"] = f"Bearer {token}"

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        target = path if "://" in path else self.url + path
        try:
            answer = self._http.request(method, target, timeout=self.timeout, allow_redirects=False, **kwargs)
            if answer.status_code in (301, 302, 303, 307, 308) and not answer.content.strip():
                answer = self._http.get(answer.headers["Location"], timeout=self.timeout)
        except requests.RequestException as exc:
            raise ServiceUnreachable(f"cannot reach {self.url}: {unreachable_reason(exc, self.timeout)}") from exc
        if answer.status_code >= 400:
            raise _refusal(answer)
        try:
            document = answer.json()
        except ValueError:
            document = None
        if not isinstance(document, dict):
            kind = answer.headers.get("Content-Type", "no content type")
            raise ClientError(f"{method} {target}: the answer is not a JSON document ({kind}); is this execplanner?")
        return document

    # --- asking ---------------------------------------------------------------------------------------------
    def ask(self, body: bytes, content_type: str) -> OfferSetView:
        """POST an offer-set request document (JSON, YAML or XML bytes): the offer set, YES or NO."""
        return OfferSetView.read(self._call("POST", "/offersets", data=body, headers={"Content-Type": content_type}))

    def offerset(self, uuid_or_url: str) -> OfferSetView:
        return OfferSetView.read(self._call("GET", self._path("offersets", uuid_or_url)))

    def session(self, uuid_or_url: str) -> SessionView:
        return SessionView.read(self._call("GET", self._path("sessions", uuid_or_url)))

    def update(self, uuid_or_url: str, phase: str) -> SessionView:
        """Move a session to `phase` (ACCEPTED, REJECTED, CANCELLED); a 409 says why it may not."""
        body = {"update": {"type": UPDATE, "path": "phase", "value": phase}}
        return SessionView.read(self._call("POST", self._path("sessions", uuid_or_url), json=body))

    def accept(self, uuid_or_url: str) -> SessionView:
        return self.update(uuid_or_url, "ACCEPTED")

    def reject(self, uuid_or_url: str) -> SessionView:
        return self.update(uuid_or_url, "REJECTED")

    def cancel(self, uuid_or_url: str) -> SessionView:
        return self.update(uuid_or_url, "CANCELLED")

    # --- lists ----------------------------------------------------------------------------------------------
    def sessions(self, **filters: Any) -> Page[SessionView]:
        """One page of the caller's sessions, newest first; filters as in `list_query`."""
        document = self._call("GET", "/sessions", params=list_query(**filters))
        items = [SessionView.read(s) for s in document.get("sessions") or [] if isinstance(s, dict)]
        return Page(items, document.get("cursor"), document)

    def offersets(self, **filters: Any) -> Page[OfferSetView]:
        document = self._call("GET", "/offersets", params=list_query(**filters))
        items = [OfferSetView.read(o) for o in document.get("offersets") or [] if isinstance(o, dict)]
        return Page(items, document.get("cursor"), document)

    def iter_sessions(self, **filters: Any) -> Iterator[SessionView]:
        """Every matching session, following the cursor page by page."""
        cursor = filters.pop("cursor", None)
        while True:
            page = self.sessions(cursor=cursor, **filters)
            yield from page.items
            if not page.cursor:
                return
            cursor = page.cursor

    def _path(self, collection: str, uuid_or_url: str) -> str:
        if "://" in uuid_or_url:
            return uuid_or_url
        return f"/{collection}/{uuid_or_url.strip().strip('/')}"


def list_query(
    phase: Sequence[str] = (),
    site: str | None = None,
    vo: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    limit: int | None = None,
    cursor: str | None = None,
) -> list[tuple[str, str]]:
    """The query of `GET /sessions` and `GET /offersets`: `phase` repeats, times are ISO 8601."""
    query = [("phase", p.upper()) for p in phase]
    for name, value in (("site", site), ("vo", vo), ("since", since), ("until", until), ("limit", limit)):
        if value is not None:
            query.append((name, value.isoformat() if isinstance(value, datetime) else str(value)))
    if cursor:
        query.append(("cursor", cursor))
    return query

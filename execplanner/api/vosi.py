"""IVOA VOSI 1.1 endpoints: `GET /capabilities` and `GET /availability`, as XML built with lxml.

Pure builders (`capabilities_xml`, `availability_xml`) produce documents that validate against the official
VOSICapabilities/VOSIAvailability schemas; the endpoints only read app state and wrap them in responses.
Both endpoints are anonymous: they are how registries and clients discover what this service offers.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from lxml import etree
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from execplanner.config import Settings

NS_AVAILABILITY = "http://www.ivoa.net/xml/VOSIAvailability/v1.0"
NS_CAPABILITIES = "http://www.ivoa.net/xml/VOSICapabilities/v1.0"
NS_VORESOURCE = "http://www.ivoa.net/xml/VOResource/v1.0"
NS_VODATASERVICE = "http://www.ivoa.net/xml/VODataService/v1.1"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"

VOSI_CAPABILITIES_ID = "ivo://ivoa.net/std/VOSI#capabilities"
VOSI_AVAILABILITY_ID = "ivo://ivoa.net/std/VOSI#availability"
TOKEN_SECURITY_ID = "ivo://ivoa.net/sso#token"

XML_MEDIA_TYPE = "text/xml"
HEALTH_TIMEOUT = 5.0

# Characters XML 1.0 cannot carry at all (C0 controls other than tab/LF/CR, surrogates, U+FFFE/U+FFFF).
_NOT_XML_CHAR = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """Free text (health notes come from anywhere) with the characters XML cannot hold dropped."""
    return _NOT_XML_CHAR.sub("", text)


@dataclass(frozen=True)
class Interface:
    """One way to reach a capability: a URL, how to read it, and whether it takes a bearer token."""

    access_url: str
    use: str  # "full" (call as is) or "base" (append a path or query first)
    token_secured: bool = False
    query_types: tuple[str, ...] = ()


@dataclass(frozen=True)
class Capability:
    """One entry of the capabilities document."""

    standard_id: str
    description: str
    interfaces: tuple[Interface, ...]


def _secured_as_configured(
    settings: Settings, url: str, use: str, query_types: tuple[str, ...] = ()
) -> tuple[Interface, ...]:
    """One interface per way in: anonymous unless a token is required, token when issuers are trusted.
    VOResource allows one security method per interface, so an endpoint open to both is listed twice."""
    ways = []
    if not settings.require_token:
        ways.append(False)
    if settings.issuers:
        ways.append(True)
    return tuple(Interface(url, use, token_secured=secured, query_types=query_types) for secured in ways)


def service_capabilities(base_url: str, settings: Settings) -> list[Capability]:
    """What this service offers, with every URL under `base_url`."""
    base = base_url.rstrip("/")
    return [
        Capability(
            VOSI_CAPABILITIES_ID,
            "The capabilities of this service (this document).",
            (Interface(f"{base}/capabilities", "full"),),
        ),
        Capability(
            VOSI_AVAILABILITY_ID,
            "Whether this service is up, and since when.",
            (Interface(f"{base}/availability", "full"),),
        ),
        Capability(
            settings.broker_standard_id,
            "ExecutionBroker: POST a task description to <base>/offersets to receive offers; accept one by "
            "updating <base>/sessions/{uuid}. The standardID is a placeholder until IVOA assigns one.",
            _secured_as_configured(settings, base, "base"),
        ),
        Capability(
            settings.planner_standard_id,
            "Legacy ExecutionPlanner (2022 note): ask whether a task can run here with GET or multipart POST "
            "to /accepts. The standardID is a placeholder until IVOA assigns one.",
            _secured_as_configured(settings, f"{base}/accepts", "base", ("GET", "POST")),
        ),
    ]


def _interface_element(parent: etree._Element, interface: Interface) -> None:
    element = etree.SubElement(parent, "interface", {"role": "std"})
    element.set(f"{{{NS_XSI}}}type", "vs:ParamHTTP")
    etree.SubElement(element, "accessURL", {"use": interface.use}).text = interface.access_url
    if interface.token_secured:
        etree.SubElement(element, "securityMethod", {"standardID": TOKEN_SECURITY_ID})
    for query_type in interface.query_types:  # ParamHTTP's own elements follow the base Interface's
        etree.SubElement(element, "queryType").text = query_type


def capabilities_xml(base_url: str, settings: Settings) -> bytes:
    """The VOSI capabilities document: a namespaced root over unprefixed VOResource children."""
    nsmap = {"vosi": NS_CAPABILITIES, "vr": NS_VORESOURCE, "vs": NS_VODATASERVICE, "xsi": NS_XSI}
    root = etree.Element(f"{{{NS_CAPABILITIES}}}capabilities", nsmap=nsmap)
    for capability in service_capabilities(base_url, settings):
        element = etree.SubElement(root, "capability", {"standardID": capability.standard_id})
        etree.SubElement(element, "description").text = capability.description
        for interface in capability.interfaces:
            _interface_element(element, interface)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def xsd_datetime(moment: datetime) -> str:
    """An xsd:dateTime in UTC with a `Z`; naive datetimes are refused because their zone is a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("VOSI timestamps need a timezone-aware datetime")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def availability_xml(
    available: bool,
    up_since: datetime | None,
    notes: list[str],
    down_at: datetime | None = None,
    back_at: datetime | None = None,
) -> bytes:
    """The VOSI availability document; the schema fixes the child order, so it is fixed here too."""
    root = etree.Element(f"{{{NS_AVAILABILITY}}}availability", nsmap={"vosi": NS_AVAILABILITY})

    def child(name: str, text: str) -> None:
        etree.SubElement(root, f"{{{NS_AVAILABILITY}}}{name}").text = text

    child("available", "true" if available else "false")
    for name, moment in (("upSince", up_since), ("downAt", down_at), ("backAt", back_at)):
        if moment is not None:
            child(name, xsd_datetime(moment))
    for note in notes:
        child("note", xml_text(note))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def http_date(moment: datetime) -> str:
    """RFC 9110 IMF-fixdate, as `Last-Modified` wants it."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def _base_url(request: Request) -> str:
    configured = request.app.state.settings.base_url
    return (configured or str(request.base_url)).rstrip("/")


def _not_modified_since(request: Request, last_modified: datetime) -> bool:
    header = request.headers.get("if-modified-since")
    if not header:
        return False
    try:
        since = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return False  # an unreadable validator is ignored, as RFC 9110 says
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return last_modified.replace(microsecond=0) <= since


async def capabilities_endpoint(request: Request) -> Response:
    """The capabilities change only when the service restarts, so its start time is the Last-Modified."""
    started_at: datetime = request.app.state.started_at
    headers = {"Last-Modified": http_date(started_at)}
    if _not_modified_since(request, started_at):
        return Response(status_code=304, headers=headers)
    body = capabilities_xml(_base_url(request), request.app.state.settings)
    return Response(body, media_type=XML_MEDIA_TYPE, headers=headers)


def _health(request: Request) -> tuple[bool, list[str]]:
    check: Callable[[], tuple[bool, list[str]]] | None = getattr(request.app.state, "health", None)
    if check is None:
        return True, []
    try:
        available, notes = check()
    except Exception as exc:  # noqa: BLE001 — a failing check is itself the answer: not available
        return False, [f"health check failed ({type(exc).__name__})"]
    return bool(available), list(notes)


async def _checked_health(request: Request) -> tuple[bool, list[str]]:
    """The health check runs off the event loop (it asks the database) and may take HEALTH_TIMEOUT at most."""
    try:
        return await asyncio.wait_for(run_in_threadpool(_health, request), timeout=HEALTH_TIMEOUT)
    except TimeoutError:
        return False, [f"health check did not finish within {HEALTH_TIMEOUT:g} s (is the database answering?)"]


async def availability_endpoint(request: Request) -> Response:
    """Availability is live state, so clients and proxies must not cache it."""
    available, notes = await _checked_health(request)
    up_since: datetime | None = getattr(request.app.state, "started_at", None)
    body = availability_xml(available, up_since if available else None, notes)
    return Response(body, media_type=XML_MEDIA_TYPE, headers={"Cache-Control": "no-cache"})


# Starlette adds HEAD to GET routes and answers other methods with 405 (and an Allow header).
routes: list[Route] = [
    Route("/capabilities", capabilities_endpoint, methods=["GET", "HEAD"]),
    Route("/availability", availability_endpoint, methods=["GET", "HEAD"]),
]

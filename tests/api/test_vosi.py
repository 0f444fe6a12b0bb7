"""VOSI /capabilities and /availability: the pure builders, and the endpoints of the service over HTTP."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree
from starlette.applications import Starlette
from support.servers import InProcessService

from execplanner.api import vosi
from execplanner.config import Settings

XSD_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "ivoa-xsd"
STARTED_AT = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)
XSI_TYPE = f"{{{vosi.NS_XSI}}}type"


# ---------------------------------------------------------------- schemas


@dataclass
class VosiSchemas:
    capabilities: Any
    availability: Any


@pytest.fixture(scope="module")
def schemas() -> VosiSchemas:
    """The official XSDs, from disk only; STC is absent, so its failed import is tolerated ('lax')."""
    if not XSD_DIR.is_dir():
        pytest.skip(f"official IVOA XSDs not found at {XSD_DIR}")
    import xmlschema

    locations = [
        (vosi.NS_VORESOURCE, str(XSD_DIR / "VOResource-v1.3.xsd")),
        (vosi.NS_VODATASERVICE, str(XSD_DIR / "VODataService-v1.2.xsd")),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "import of STC failed": it is not needed for these documents
        capabilities = xmlschema.XMLSchema(
            str(XSD_DIR / "VOSICapabilities-v1.0.xsd"), locations=locations, validation="lax", allow="local"
        )
    availability = xmlschema.XMLSchema(str(XSD_DIR / "VOSIAvailability-v1.0.xsd"), allow="local")
    assert vosi.NS_VODATASERVICE in capabilities.maps.namespaces, "vs:ParamHTTP would not resolve"
    return VosiSchemas(capabilities, availability)


# ---------------------------------------------------------------- a real server


@dataclass
class LiveServer:
    url: str
    app: Starlette

    def set_health(self, check: Callable[[], tuple[bool, list[str]]]) -> None:
        self.app.state.health = check


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The service (`create_app`) served by uvicorn on a free loopback port in this process, its start time
    fixed so that Last-Modified and upSince are known."""
    service = InProcessService(data_dir=tmp_path_factory.mktemp("vosi")).start()
    service.app.state.started_at = STARTED_AT
    yield LiveServer(service.base_url, service.app)
    service.stop()


@pytest.fixture
def server(live: LiveServer) -> Iterator[LiveServer]:
    """The shared server, with state a test changed put back afterwards."""
    live.app.state.health = lambda: (True, [])
    live.app.state.settings = Settings()
    yield live
    live.app.state.health = lambda: (True, [])
    live.app.state.settings = Settings()


# ---------------------------------------------------------------- helpers


def parse(document: bytes) -> etree._Element:
    return etree.fromstring(document)


def capabilities_by_id(root: etree._Element) -> dict[str, etree._Element]:
    return {element.get("standardID"): element for element in root.findall("capability")}


def access_urls(capability: etree._Element) -> list[str]:
    return [url.text for url in capability.iter("accessURL")]


# ================================================================ availability_xml


def test_availability_children_are_namespaced_and_in_schema_order(schemas: VosiSchemas) -> None:
    up = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    down, back = up + timedelta(days=1), up + timedelta(days=2)
    document = vosi.availability_xml(True, up, ["first note", "second note"], down_at=down, back_at=back)
    root = parse(document)
    assert root.tag == f"{{{vosi.NS_AVAILABILITY}}}availability"
    names = [etree.QName(child).localname for child in root]
    assert names == ["available", "upSince", "downAt", "backAt", "note", "note"]
    assert all(etree.QName(child).namespace == vosi.NS_AVAILABILITY for child in root)
    assert [child.text for child in root] == [
        "true",
        "2026-01-02T03:04:05Z",
        "2026-01-03T03:04:05Z",
        "2026-01-04T03:04:05Z",
        "first note",
        "second note",
    ]
    schemas.availability.validate(document)


def test_availability_with_only_the_required_child(schemas: VosiSchemas) -> None:
    document = vosi.availability_xml(False, None, [])
    root = parse(document)
    assert [etree.QName(child).localname for child in root] == ["available"]
    assert root[0].text == "false"
    schemas.availability.validate(document)


def test_availability_times_are_reported_in_utc() -> None:
    paris_winter = timezone(timedelta(hours=1))
    root = parse(vosi.availability_xml(True, datetime(2026, 1, 1, 10, 0, tzinfo=paris_winter), []))
    assert root[1].text == "2026-01-01T09:00:00Z"


def test_availability_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        vosi.availability_xml(True, datetime(2026, 1, 1), [])


def test_the_schema_check_is_not_vacuous(schemas: VosiSchemas) -> None:
    without_available = vosi.availability_xml(True, STARTED_AT, []).replace(
        b"<vosi:available>true</vosi:available>", b""
    )
    assert not schemas.availability.is_valid(without_available)
    bad_use = vosi.capabilities_xml("http://x", Settings()).replace(b'use="full"', b'use="sometimes"')
    assert not schemas.capabilities.is_valid(bad_use)


@given(notes=st.lists(st.text(max_size=40), max_size=4))
def test_any_note_text_yields_well_formed_xml_keeping_every_xml_character(notes: list[str]) -> None:
    root = parse(vosi.availability_xml(True, STARTED_AT, notes))
    texts = [child.text or "" for child in root.findall(f"{{{vosi.NS_AVAILABILITY}}}note")]
    assert texts == [vosi.xml_text(note) for note in notes]


# ================================================================ capabilities_xml


def test_capabilities_document_validates_against_the_official_schemas(schemas: VosiSchemas) -> None:
    schemas.capabilities.validate(vosi.capabilities_xml("https://broker.example.org/exec", Settings()))


def test_capabilities_root_is_namespaced_and_everything_below_it_is_unprefixed() -> None:
    root = parse(vosi.capabilities_xml("https://broker.example.org", Settings()))
    assert root.tag == f"{{{vosi.NS_CAPABILITIES}}}capabilities"
    descendants = list(root.iterdescendants())
    assert descendants and all(etree.QName(element).namespace is None for element in descendants)
    assert root.nsmap["vs"] == vosi.NS_VODATASERVICE


def test_capabilities_list_vosi_broker_and_legacy_planner() -> None:
    root = parse(vosi.capabilities_xml("https://broker.example.org", Settings()))
    assert list(capabilities_by_id(root)) == [
        "ivo://ivoa.net/std/VOSI#capabilities",
        "ivo://ivoa.net/std/VOSI#availability",
        "ivo://ivoa.net/std/ExecutionBroker#offersets-1.0",
        "ivo://ivoa.net/std/ExecutionPlanner#accepts-1.0",
    ]
    for capability in root.findall("capability"):
        assert capability.findtext("description")
        for interface in capability.findall("interface"):
            assert interface.get(XSI_TYPE) == "vs:ParamHTTP"
            assert interface.get("role") == "std"


def test_standard_ids_come_from_the_settings() -> None:
    settings = Settings(broker_standard_id="ivo://example.org/std/Broker#v2", planner_standard_id="ivo://x/p")
    root = parse(vosi.capabilities_xml("https://b.example.org", settings))
    assert {"ivo://example.org/std/Broker#v2", "ivo://x/p"} <= set(capabilities_by_id(root))


CHECKIN = "https://aai.egi.eu/auth/realms/egi"


def trusting(**more: object) -> Settings:
    """Settings of a service that trusts EGI Check-in tokens (so its broker interfaces are listed twice)."""
    return Settings(issuers=[CHECKIN], **more)


def test_access_urls_sit_under_the_base_url_whatever_its_trailing_slash() -> None:
    settings = trusting()
    for base in ("https://b.example.org/exec", "https://b.example.org/exec/"):
        found = capabilities_by_id(parse(vosi.capabilities_xml(base, settings)))
        assert access_urls(found[vosi.VOSI_CAPABILITIES_ID]) == ["https://b.example.org/exec/capabilities"]
        assert access_urls(found[vosi.VOSI_AVAILABILITY_ID]) == ["https://b.example.org/exec/availability"]
        assert access_urls(found[settings.broker_standard_id]) == ["https://b.example.org/exec"] * 2
        assert access_urls(found[settings.planner_standard_id]) == ["https://b.example.org/exec/accepts"] * 2


def test_vosi_urls_are_full_and_broker_url_is_a_base() -> None:
    found = capabilities_by_id(parse(vosi.capabilities_xml("https://b.example.org", trusting())))
    assert [u.get("use") for u in found[vosi.VOSI_CAPABILITIES_ID].iter("accessURL")] == ["full"]
    assert [u.get("use") for u in found[vosi.VOSI_AVAILABILITY_ID].iter("accessURL")] == ["full"]
    assert [u.get("use") for u in found[Settings().broker_standard_id].iter("accessURL")] == ["base", "base"]


def test_only_the_authenticated_interfaces_carry_one_empty_token_security_method() -> None:
    found = capabilities_by_id(parse(vosi.capabilities_xml("https://b.example.org", trusting())))
    for vosi_id in (vosi.VOSI_CAPABILITIES_ID, vosi.VOSI_AVAILABILITY_ID):
        assert list(found[vosi_id].iter("securityMethod")) == []
    for standard_id in (Settings().broker_standard_id, Settings().planner_standard_id):
        anonymous, authenticated = found[standard_id].findall("interface")
        assert anonymous.findall("securityMethod") == []
        (method,) = authenticated.findall("securityMethod")
        assert method.get("standardID") == "ivo://ivoa.net/sso#token"
        assert len(method) == 0 and not (method.text or "").strip()


def test_interfaces_follow_what_the_operator_configured(schemas: VosiSchemas) -> None:
    """No trusted issuer: anonymous only. Tokens required: the token interface only."""
    for settings, expected in ((Settings(), [[]]), (trusting(require_token=True), [["ivo://ivoa.net/sso#token"]])):
        document = vosi.capabilities_xml("https://b.example.org", settings)
        schemas.capabilities.validate(document)
        found = capabilities_by_id(parse(document))
        for standard_id in (settings.broker_standard_id, settings.planner_standard_id):
            interfaces = found[standard_id].findall("interface")
            methods = [[m.get("standardID") for m in i.findall("securityMethod")] for i in interfaces]
            assert methods == expected


def test_http_date_is_an_imf_fixdate_in_gmt() -> None:
    assert vosi.http_date(STARTED_AT) == "Sat, 14 Mar 2026 09:26:53 GMT"
    assert vosi.http_date(datetime(2026, 3, 14, 10, 26, 53, 999, tzinfo=timezone(timedelta(hours=1)))) == (
        "Sat, 14 Mar 2026 09:26:53 GMT"
    )


# ================================================================ over HTTP


def test_get_capabilities(server: LiveServer, schemas: VosiSchemas) -> None:
    response = requests.get(f"{server.url}/capabilities", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.headers["last-modified"] == "Sat, 14 Mar 2026 09:26:53 GMT"
    schemas.capabilities.validate(response.content)
    capabilities = parse(response.content).findall("capability")
    urls = [url for capability in capabilities for url in access_urls(capability)]
    assert urls and all(url.startswith(server.url) for url in urls)
    assert f"{server.url}/capabilities" in urls and f"{server.url}/availability" in urls


def test_head_capabilities_has_headers_and_no_body(server: LiveServer) -> None:
    response = requests.head(f"{server.url}/capabilities", timeout=5)
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-type"].startswith("text/xml")
    assert response.headers["last-modified"] == "Sat, 14 Mar 2026 09:26:53 GMT"


def test_capabilities_answer_a_conditional_get_with_304(server: LiveServer) -> None:
    url = f"{server.url}/capabilities"
    unchanged = requests.get(url, headers={"If-Modified-Since": "Sat, 14 Mar 2026 09:26:53 GMT"}, timeout=5)
    assert unchanged.status_code == 304 and unchanged.content == b""
    older = requests.get(url, headers={"If-Modified-Since": "Fri, 13 Mar 2026 09:26:53 GMT"}, timeout=5)
    assert older.status_code == 200 and older.content


def test_configured_base_url_wins_over_the_request(server: LiveServer, schemas: VosiSchemas) -> None:
    server.app.state.settings = trusting(base_url="https://broker.example.org/exec/")
    response = requests.get(f"{server.url}/capabilities", timeout=5)
    schemas.capabilities.validate(response.content)
    found = capabilities_by_id(parse(response.content))
    assert access_urls(found[vosi.VOSI_AVAILABILITY_ID]) == ["https://broker.example.org/exec/availability"]
    assert access_urls(found[Settings().broker_standard_id]) == ["https://broker.example.org/exec"] * 2


@pytest.mark.parametrize("path", ["/capabilities", "/availability"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_other_methods_are_not_allowed(server: LiveServer, path: str, method: str) -> None:
    response = requests.request(method, f"{server.url}{path}", data=b"<x/>", timeout=5)
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


def test_get_availability_when_healthy(server: LiveServer, schemas: VosiSchemas) -> None:
    response = requests.get(f"{server.url}/availability", timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert response.headers["cache-control"] == "no-cache"
    schemas.availability.validate(response.content)
    root = parse(response.content)
    assert root.findtext(f"{{{vosi.NS_AVAILABILITY}}}available") == "true"
    assert root.findtext(f"{{{vosi.NS_AVAILABILITY}}}upSince") == "2026-03-14T09:26:53Z"


def test_head_availability(server: LiveServer) -> None:
    response = requests.head(f"{server.url}/availability", timeout=5)
    assert response.status_code == 200 and response.content == b""
    assert response.headers["content-type"].startswith("text/xml")


def test_availability_reports_an_unhealthy_service_and_why(server: LiveServer, schemas: VosiSchemas) -> None:
    server.set_health(lambda: (False, ["database unreachable", "scheduler stopped"]))
    response = requests.get(f"{server.url}/availability", timeout=5)
    assert response.status_code == 200
    schemas.availability.validate(response.content)
    root = parse(response.content)
    assert root.findtext(f"{{{vosi.NS_AVAILABILITY}}}available") == "false"
    assert root.find(f"{{{vosi.NS_AVAILABILITY}}}upSince") is None
    assert [n.text for n in root.findall(f"{{{vosi.NS_AVAILABILITY}}}note")] == [
        "database unreachable",
        "scheduler stopped",
    ]


def test_a_failing_health_check_means_unavailable_and_leaks_nothing(server: LiveServer) -> None:
    def broken() -> tuple[bool, list[str]]:
        raise RuntimeError("connect failed: postgresql://svc:s3cr3t-password@db/exec")

    server.set_health(broken)
    response = requests.get(f"{server.url}/availability", timeout=5)
    assert response.status_code == 200
    root = parse(response.content)
    assert root.findtext(f"{{{vosi.NS_AVAILABILITY}}}available") == "false"
    assert b"s3cr3t" not in response.content
    assert "RuntimeError" in root.findtext(f"{{{vosi.NS_AVAILABILITY}}}note")


def test_availability_without_a_health_check_is_available(server: LiveServer) -> None:
    del server.app.state.health
    root = parse(requests.get(f"{server.url}/availability", timeout=5).content)
    assert root.findtext(f"{{{vosi.NS_AVAILABILITY}}}available") == "true"


def test_vosi_endpoints_need_no_credentials(server: LiveServer) -> None:
    for path in ("/capabilities", "/availability"):
        assert requests.get(f"{server.url}{path}", timeout=5).status_code == 200

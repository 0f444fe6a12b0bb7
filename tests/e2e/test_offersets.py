"""The offer/accept protocol against a real server, on SQLite and PostgreSQL, in every dialect and format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests
import yaml
from lxml import etree

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOTEBOOK_2025 = json.loads((EXAMPLES / "requests" / "jupyter-notebook.json").read_text())
NOTEBOOK_2026 = (EXAMPLES / "requests" / "jupyter-notebook.yaml").read_bytes()
CONTENT_TYPES = {".json": "application/json", ".yaml": "application/yaml", ".xml": "application/xml"}


def post_offerset(http: requests.Session, service, body: bytes, content_type: str, path: str = "/offersets"):
    return http.post(service.url(path), data=body, headers={"Content-Type": content_type}, allow_redirects=False)


def offerset(http, service, body=None, content_type="application/json") -> dict:
    body = body if body is not None else json.dumps(NOTEBOOK_2025).encode()
    created = post_offerset(http, service, body, content_type)
    assert created.status_code == 303, created.text
    answer = http.get(created.headers["Location"], headers={"Accept": "application/json"})
    assert answer.status_code == 200
    return answer.json()


def update(http, service, session_url: str, value: str, dialect: str = "2025") -> requests.Response:
    if dialect == "2026":
        body = {"kind": "uri:enum-value-update", "path": "phase", "value": value}
    else:
        body = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": value}}
    return http.post(session_url, json=body, headers={"Accept": "application/json"})


def test_post_redirects_to_the_stored_offerset(http, service):
    created = post_offerset(http, service, json.dumps(NOTEBOOK_2025).encode(), "application/json")
    assert created.status_code == 303
    location = created.headers["Location"]
    assert location.startswith(service.base_url + "/offersets/")
    followed = http.get(location)
    assert followed.status_code == 200
    document = followed.json()
    assert document["href"] == location
    assert document["result"] == "YES"
    assert created.json()["uuid"] == document["uuid"]


def test_yes_carries_several_offers_each_offered_with_options(http, service):
    document = offerset(http, service)
    offers = document["offers"]
    assert len(offers) >= 2
    starts = {o["schedule"]["executing"]["start"] for o in offers}
    sites = {o["placement"]["site"] for o in offers}
    assert len(starts) > 1 or len(sites) > 1, "offers must differ in start time or site"
    for offer in offers:
        assert offer["phase"] == "OFFERED"
        assert offer["expires"]
        assert offer["options"] == [
            {"type": "uri:enum-value-option", "path": "phase", "values": ["ACCEPTED", "REJECTED"]}
        ]
        assert offer["href"] == f"{service.base_url}/sessions/{offer['uuid']}"


def test_accepting_one_offer_rejects_its_siblings(http, service):
    offers = offerset(http, service)["offers"]
    chosen, siblings = offers[0], offers[1:]
    accepted = update(http, service, chosen["href"], "ACCEPTED")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["phase"] == "ACCEPTED"
    assert accepted.json()["options"][0]["values"] == ["CANCELLED"]
    for sibling in siblings:
        assert http.get(sibling["href"]).json()["phase"] == "REJECTED"
    again = update(http, service, siblings[0]["href"], "ACCEPTED")
    assert again.status_code == 409
    assert "REJECTED" in again.json()["messages"][0]["message"]


def test_illegal_transitions_are_409_not_silent(http, service):
    offers = offerset(http, service)["offers"]
    assert update(http, service, offers[0]["href"], "CANCELLED").status_code == 409
    assert update(http, service, offers[0]["href"], "COMPLETED").status_code == 409
    assert http.get(offers[0]["href"]).json()["phase"] == "OFFERED"
    assert update(http, service, offers[0]["href"], "REJECTED").json()["phase"] == "REJECTED"
    assert update(http, service, offers[0]["href"], "ACCEPTED").status_code == 409


def test_accepted_session_can_be_cancelled(http, service):
    offers = offerset(http, service)["offers"]
    assert update(http, service, offers[1]["href"], "ACCEPTED").status_code == 200
    cancelled = update(http, service, offers[1]["href"], "CANCELLED")
    assert cancelled.json()["phase"] == "CANCELLED"
    assert "options" not in cancelled.json()


def test_2026_dialect_is_answered_in_2026(http, service):
    document = offerset(http, service, NOTEBOOK_2026, "application/yaml")
    assert document["kind"].endswith("/types/offerset/execution-offerset-1.0")
    assert document["meta"]["uuid"] and document["meta"]["url"].endswith(document["meta"]["uuid"])
    offer = document["offers"][0]
    assert offer["kind"].endswith("/types/session/scheduled-execution-session-1.0")
    assert offer["executable"]["kind"].endswith("/v1.0/types/executable/jupyter-notebook-1.0")
    assert offer["compute"]["cores"] == {"min": 2, "max": 2}
    assert set(offer["schedule"]) >= {"preparing", "available", "releasing"}
    assert offer["options"][0]["kind"] == "uri:enum-value-option"
    accepted = update(http, service, offer["meta"]["url"], "ACCEPTED", dialect="2026")
    assert accepted.status_code == 200
    assert accepted.json()["phase"] == "ACCEPTED"
    assert http.get(document["offers"][1]["meta"]["url"]).json()["phase"] == "REJECTED"


def test_doubled_slash_uris_are_read(http, service):
    body = yaml.safe_load(NOTEBOOK_2026)
    body["executable"]["kind"] = body["executable"]["kind"].replace("v1.0/types", "v1.0//types")
    document = offerset(http, service, yaml.safe_dump(body).encode(), "application/yaml")
    assert document["result"] == "YES"


@pytest.mark.parametrize("content_type", ["application/yaml", "text/yaml", "application/x-yaml"])
def test_yaml_content_types(http, service, content_type):
    assert offerset(http, service, yaml.safe_dump(NOTEBOOK_2025).encode(), content_type)["result"] == "YES"


@pytest.mark.parametrize(
    "accept,parse",
    [
        ("application/json", json.loads),
        ("application/yaml", yaml.safe_load),
        ("application/xml", etree.fromstring),
    ],
)
def test_response_format_follows_accept(http, service, accept, parse):
    created = post_offerset(http, service, json.dumps(NOTEBOOK_2025).encode(), "application/json")
    answer = http.get(created.headers["Location"], headers={"Accept": accept})
    assert answer.headers["Content-Type"].startswith(accept)
    parsed = parse(answer.content)
    if accept == "application/xml":
        assert parsed.tag == "offers-response"
        assert parsed.findtext("result") == "YES"
        assert len(parsed.find("offers").findall("execution")) >= 2
    else:
        assert parsed["result"] == "YES"


def test_xml_request_and_update(http, service):
    body = (EXAMPLES / "requests" / "jupyter-notebook.xml").read_bytes()
    created = post_offerset(http, service, body, "application/xml")
    assert created.status_code == 303, created.text
    document = http.get(created.headers["Location"], headers={"Accept": "application/xml"})
    root = etree.fromstring(document.content)
    first = root.find("offers").find("execution")
    href = first.findtext("href")
    assert first.find("resources").find("compute").find("cores").find("requested").findtext("min") == "2"
    accepted = http.post(
        href,
        data=(EXAMPLES / "updates" / "accept.xml").read_bytes(),
        headers={"Content-Type": "application/xml", "Accept": "application/xml"},
    )
    assert accepted.status_code == 200, accepted.text
    assert etree.fromstring(accepted.content).findtext("phase") == "ACCEPTED"


def test_requests_path_is_the_same_as_offersets(http, service):
    created = post_offerset(http, service, json.dumps(NOTEBOOK_2025).encode(), "application/json", "/requests")
    assert created.status_code == 303
    assert "/offersets/" in created.headers["Location"]
    assert http.get(created.headers["Location"]).json()["result"] == "YES"


@pytest.mark.parametrize("path", ["/direct", "/sessions"])
def test_direct_execution_creates_an_accepted_session(http, service, path):
    created = post_offerset(http, service, NOTEBOOK_2026, "application/yaml", path)
    assert created.status_code == 303, created.text
    location = created.headers["Location"]
    assert location.startswith(service.base_url + "/sessions/")
    assert created.json()["phase"] == "ACCEPTED"
    assert http.get(location).json()["phase"] == "ACCEPTED"


def test_unknown_executable_type_is_a_no_naming_it(http, service):
    body = dict(NOTEBOOK_2025, executable={"type": "https://example.org/types/quantum-circuit-1.0"})
    document = offerset(http, service, json.dumps(body).encode())
    assert document["result"] == "NO"
    assert document["offers"] == []
    assert any("quantum-circuit-1.0" in m["message"] for m in document["messages"])


def test_unknown_uuid_is_404(http, service):
    for path in (
        "/offersets/0b4f6a8e-0000-4000-8000-000000000000",
        "/sessions/0b4f6a8e-0000-4000-8000-000000000000",
        "/sessions/not-a-uuid",
    ):
        answer = http.get(service.url(path))
        assert answer.status_code == 404
        assert answer.json()["messages"][0]["level"] == "ERROR"


def test_unsupported_accept_is_406(http, service):
    answer = http.post(service.url("/offersets"), json=NOTEBOOK_2025, headers={"Accept": "image/png"})
    assert answer.status_code == 406


def test_namespaced_xml_is_read(http, service):
    body = (EXAMPLES / "requests" / "jupyter-notebook.xml").read_bytes()
    body = body.replace(b"<offers-request>", b'<offers-request xmlns="urn:example:any-namespace">')
    created = post_offerset(http, service, body, "application/xml")
    assert created.status_code == 303, created.text
    assert created.json()["result"] == "YES"


def test_xml_with_unknown_element_is_400_naming_it(http, service):
    body = (EXAMPLES / "requests" / "jupyter-notebook.xml").read_bytes()
    body = body.replace(b"<name>galaxy-colours</name>", b"<name>galaxy-colours</name><colour>red</colour>")
    answer = post_offerset(http, service, body, "application/xml")
    assert answer.status_code == 400
    assert "colour" in answer.json()["messages"][0]["message"]


def test_2026_volumes_and_data_are_echoed(http, service):
    body = yaml.safe_load(NOTEBOOK_2026)
    body["data"] = [
        {
            "kind": "https://www.purl.org/ivoa.net/EB/schema/v1.0/types/data/simple-data-resource-1.0",
            "meta": {"name": "survey"},
            "location": "https://example.org/survey.fits",
        }
    ]
    body["volumes"] = [
        {
            "kind": "https://www.purl.org/ivoa.net/EB/schema/v1.0/types/volume/simple-volume-mount-1.0",
            "meta": {"name": "input"},
            "path": "/data",
            "mode": "READONLY",
            "resources": ["survey"],
        }
    ]
    offer = offerset(http, service, yaml.safe_dump(body).encode(), "application/yaml")["offers"][0]
    assert offer["data"][0]["location"] == "https://example.org/survey.fits"
    assert offer["volumes"][0]["path"] == "/data" and offer["volumes"][0]["resources"] == ["survey"]

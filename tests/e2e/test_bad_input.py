"""Bad input gets a clear 4xx error document, in the requested format, and leaves nothing behind."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy
import yaml
from lxml import etree

GOOD = {
    "executable": {
        "type": "https://www.purl.org/ivoa.net/EB/schema/types/executables/jupyter-notebook-1.0",
        "location": "https://example.org/a.ipynb",
    }
}


@pytest.fixture(scope="module")
def count_offersets() -> Iterator[Callable[[Any], int]]:
    """`count_offersets(service)`: the offer sets in the service's database, read through one engine per database
    for the module (a connection per test, not a new engine and its connect each time)."""
    engines: dict[str, sqlalchemy.Engine] = {}

    def count(service: Any) -> int:
        url = service.database or f"sqlite:///{service.data_dir / 'execplanner.sqlite'}"
        if url not in engines:
            engines[url] = sqlalchemy.create_engine(url)
        with engines[url].connect() as conn:
            return conn.execute(sqlalchemy.text("SELECT count(*) FROM offersets")).scalar_one()

    yield count
    for engine in engines.values():
        engine.dispose()


BAD_BODIES = [
    pytest.param(b'{"executable": ', "application/json", 400, "malformed JSON", id="truncated-json"),
    pytest.param(b"[1, 2, 3]", "application/json", 400, "mapping", id="json-array"),
    pytest.param(b"executable: [unclosed", "application/yaml", 400, "malformed YAML", id="bad-yaml"),
    pytest.param(b"!!python/object/apply:os.system ['true']", "application/yaml", 400, "YAML", id="yaml-python-tag"),
    pytest.param(
        b"<offers-request><executable></offers-request>", "application/xml", 400, "malformed XML", id="bad-xml"
    ),
    pytest.param(
        b'<?xml version="1.0"?><!DOCTYPE lol [<!ENTITY lol "lol">]><offers-request>&lol;</offers-request>',
        "application/xml",
        400,
        "DTD",
        id="xml-entities",
    ),
    pytest.param(
        b'<!DOCTYPE x SYSTEM "file:///etc/passwd"><offers-request/>',
        "application/xml",
        400,
        "DTD",
        id="xml-external-dtd",
    ),
    pytest.param(b"<wrong-root/>", "application/xml", 400, "offers-request", id="xml-wrong-root"),
    pytest.param(
        json.dumps({"name": "no executable"}).encode(),
        "application/json",
        400,
        "no executable",
        id="missing-executable",
    ),
    pytest.param(
        json.dumps({"executable": {"location": "x"}}).encode(),
        "application/json",
        400,
        "no 'type'",
        id="executable-without-type",
    ),
    pytest.param(
        json.dumps({**GOOD, "schedule": {"requested": {"duration": "two hours"}}}).encode(),
        "application/json",
        400,
        "ISO 8601",
        id="bad-duration",
    ),
    pytest.param(
        json.dumps({**GOOD, "resources": {"compute": [{"cores": {"requested": {"min": -3}}}]}}).encode(),
        "application/json",
        400,
        "cores",
        id="negative-cores",
    ),
    pytest.param(
        json.dumps({**GOOD, "name": "n" * 1000}).encode(), "application/json", 400, "at most 256", id="long-name"
    ),
    pytest.param(
        json.dumps({"name": "n" * 1000, "executable": {"type": "urn:quantum-annealer"}}).encode(),
        "application/json",
        400,
        "at most 256",
        id="long-name-and-unknown-type",
    ),
    pytest.param(
        json.dumps({"meta": {"name": "m" * 300}, "executable": {"kind": GOOD["executable"]["type"]}}).encode(),
        "application/json",
        400,
        "at most 256",
        id="long-meta-name",
    ),
    pytest.param(
        json.dumps({**GOOD, "name": "a\u0000b"}).encode(), "application/json", 400, "control characters", id="nul-name"
    ),
    pytest.param(json.dumps(GOOD).encode(), "text/plain", 415, "not supported", id="wrong-content-type"),
    pytest.param(b"", "application/json", 400, "empty", id="empty-body"),
]


@pytest.mark.parametrize("body,content_type,status,text", BAD_BODIES)
def test_bad_offerset_requests_are_refused_cleanly(http, service, count_offersets, body, content_type, status, text):
    before = count_offersets(service)
    answer = http.post(
        service.url("/offersets"), data=body, headers={"Content-Type": content_type}, allow_redirects=False
    )
    assert answer.status_code == status, answer.text
    error = answer.json()
    assert error["status"] == status
    assert text in error["messages"][0]["message"]
    assert count_offersets(service) == before


def test_yaml_alias_bomb_is_refused(http, service):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        previous, name = chr(96 + i), chr(97 + i)
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
    answer = http.post(service.url("/offersets"), data="\n".join(lines), headers={"Content-Type": "application/yaml"})
    assert answer.status_code == 400
    assert "aliases" in answer.json()["messages"][0]["message"]


def test_huge_body_is_413(http, service):
    body = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    answer = http.post(service.url("/offersets"), data=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 413


def test_error_document_follows_accept(http, service):
    answer = http.post(
        service.url("/offersets"), data=b"{", headers={"Content-Type": "application/json", "Accept": "application/xml"}
    )
    assert answer.status_code == 400
    root = etree.fromstring(answer.content)
    assert root.tag == "error"
    assert root.findtext("status") == "400"
    as_yaml = http.post(
        service.url("/offersets"), data=b"{", headers={"Content-Type": "application/json", "Accept": "application/yaml"}
    )
    assert yaml.safe_load(as_yaml.content)["status"] == 400


def test_bad_update_documents(http, service):
    created = http.post(service.url("/offersets"), json=GOOD, allow_redirects=True).json()
    href = created["offers"][0]["href"]
    cases = [
        (
            {"update": {"type": "uri:enum-value-update", "path": "phase", "value": "DANCING"}},
            400,
            "not a session phase",
        ),
        ({"update": {"type": "uri:enum-value-update", "path": "cores", "value": "4"}}, 400, "only 'phase'"),
        ({"update": {"type": "uri:integer-delta-update", "path": "phase", "value": 1}}, 400, "unsupported update"),
        ({"update": {"type": "uri:enum-value-update", "path": "phase"}}, 400, "no 'value'"),
    ]
    for body, status, text in cases:
        answer = http.post(href, json=body)
        assert answer.status_code == status, answer.text
        assert text in answer.json()["messages"][0]["message"]
    assert http.get(href).json()["phase"] == "OFFERED"


def test_unknown_path_and_method(http, service):
    assert http.get(service.url("/nowhere")).status_code == 404
    assert http.delete(service.url("/offersets")).status_code == 405


def test_absurd_numbers_are_400_not_500(http, service):
    for body, content_type in (
        (
            json.dumps({**GOOD, "resources": {"compute": [{"cores": {"requested": {"min": 10**30}}}]}}),
            "application/json",
        ),
        (
            "executable: {type: 'https://www.purl.org/ivoa.net/EB/schema/types/executables/jupyter-notebook-1.0'}\n"
            "resources: {compute: [{memory: {min: 99999999999999999999999999}}]}\n",
            "application/yaml",
        ),
    ):
        answer = http.post(service.url("/offersets"), data=body, headers={"Content-Type": content_type})
        assert answer.status_code == 400, answer.text

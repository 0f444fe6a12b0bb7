"""Our schemas (`schemas/`) describe what the service really reads and writes.

Every example request validates; deliberately wrong documents do not; and every body a real server answers —
offer sets, sessions, errors, `/accepts` answers, in JSON, YAML and XML, in both broker dialects — validates
against its JSON Schema or the XSD. The server validates incoming XML with the same XSD, so a structurally
wrong XML request gets a 400 naming the problem.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import requests
import xmlschema
import yaml
from jsonschema import Draft202012Validator
from lxml import etree
from referencing import Registry, Resource

from execplanner.formats import decode as codec
from execplanner.formats import encode, xmltree
from execplanner.formats import tree as wire
from execplanner.formats.media import Format
from execplanner.model.documents import (
    AccessMethod,
    ComputeResource,
    DataResource,
    Dialect,
    Executable,
    ExecutableKind,
    Image,
    Interval,
    MinMax,
    Placement,
    Port,
    ScheduleBlock,
    ScheduleOffer,
    ScheduleRequest,
    Session,
    StorageResource,
    VolumeMount,
)
from execplanner.model.message import Message
from execplanner.model.phase import Phase

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
EXAMPLES = REPO / "examples"
TYPES = {".json": "application/json", ".yaml": "application/yaml", ".xml": "application/xml"}
REQUEST_EXAMPLES = sorted((EXAMPLES / "requests").iterdir())
UPDATE_EXAMPLES = sorted((EXAMPLES / "updates").iterdir())
OUR_JSON_SCHEMAS = [
    "offerset-request.schema.json",
    "offerset-response.schema.json",
    "session.schema.json",
    "update-request.schema.json",
    "error.schema.json",
    "accepts-response.schema.json",
]
ACCEPT = {"json": "application/json", "yaml": "application/yaml", "xml": "application/xml"}
JUPYTER_2025 = "https://www.purl.org/ivoa.net/EB/schema/types/executables/jupyter-notebook-1.0"


# ---------------------------------------------------------------- checking documents


@cache
def _registry() -> Registry:
    resources = []
    for path in SCHEMAS.glob("*.schema.json"):
        contents = json.loads(path.read_text())
        resources.append((contents["$id"], Resource.from_contents(contents)))
    return Registry().with_resources(resources)


@cache
def _validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    return Draft202012Validator(schema, registry=_registry())


@cache
def _xsd() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMAS / "execplanner.xsd"))


# libyaml's safe loader where present (the server writes YAML with libyaml's dumper): the same documents, read in
# a tenth of the pure-Python loader's time
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def yaml_load(data: bytes | str) -> Any:
    return yaml.load(data, Loader=_YAML_LOADER)  # noqa: S506 — a safe loader (libyaml's or Python's)


def json_problems(name: str, document: Any) -> list[str]:
    errors = sorted(_validator(name).iter_errors(document), key=lambda e: list(e.absolute_path))
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message[:300]}" for e in errors]


def xml_problems(data: bytes, root: str) -> list[str]:
    element = etree.fromstring(data)
    problems = [] if element.tag == root else [f"root is <{element.tag}>, expected <{root}>"]
    return problems + [f"{e.path}: {e.reason}" for e in _xsd().iter_errors(element)]


def assert_valid_body(response: requests.Response, fmt: str, schema: str, root: str) -> Any:
    """Check a response body against its schema in the format it came in; returns the parsed body."""
    assert response.headers["Content-Type"].startswith(ACCEPT[fmt]), response.headers["Content-Type"]
    if fmt == "xml":
        problems = xml_problems(response.content, root)
        assert not problems, f"{response.url} ({fmt}) does not match the XSD:\n" + "\n".join(problems)
        return etree.fromstring(response.content)
    document = json.loads(response.content) if fmt == "json" else yaml_load(response.content)
    problems = json_problems(schema, document)
    assert not problems, f"{response.url} ({fmt}) does not match {schema}:\n" + "\n".join(problems)
    return document


def load(path: Path) -> Any:
    return json.loads(path.read_text()) if path.suffix == ".json" else yaml_load(path.read_text())


# ---------------------------------------------------------------- the schemas themselves


@pytest.mark.parametrize("name", OUR_JSON_SCHEMAS)
def test_each_json_schema_is_valid_2020_12(name):
    schema = json.loads((SCHEMAS / name).read_text())
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith("/" + name)


def test_xsd_has_one_root_per_document_and_no_namespace():
    schema = _xsd()
    assert schema.target_namespace == ""
    assert set(schema.elements) == {
        "offers-request",
        "offers-response",
        "execution",
        "update-request",
        "error",
        "execution-planner-response",
        "sessions",
        "offersets",
    }


# ---------------------------------------------------------------- examples


@pytest.mark.parametrize("path", REQUEST_EXAMPLES, ids=lambda p: p.name)
def test_every_example_request_validates(path):
    if path.suffix == ".xml":
        assert xml_problems(path.read_bytes(), "offers-request") == []
    else:
        assert json_problems("offerset-request.schema.json", load(path)) == []


@pytest.mark.parametrize("path", UPDATE_EXAMPLES, ids=lambda p: p.name)
def test_every_example_update_validates(path):
    if path.suffix == ".xml":
        assert xml_problems(path.read_bytes(), "update-request") == []
    else:
        assert json_problems("update-request.schema.json", load(path)) == []


@pytest.mark.parametrize(
    "path", [p for p in REQUEST_EXAMPLES + UPDATE_EXAMPLES if p.suffix != ".xml"], ids=lambda p: p.name
)
def test_examples_written_as_xml_by_our_convention_validate(path):
    """A client that writes XML by docs/formats.md (as our own writer does) passes the XSD, in either dialect."""
    root = "offers-request" if path.parent.name == "requests" else "update-request"
    assert xml_problems(xmltree.render(load(path), root=root), root) == []


# ---------------------------------------------------------------- deliberately wrong documents


def _notebook_2025() -> dict[str, Any]:
    return load(EXAMPLES / "requests" / "jupyter-notebook.json")


def _notebook_2026() -> dict[str, Any]:
    return load(EXAMPLES / "requests" / "jupyter-notebook.yaml")


def _changed(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of `base` with the value at a dotted path replaced (None deletes it)."""
    document = copy.deepcopy(base)
    *parents, last = path.split(".")
    node: Any = document
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if value is None:
        del node[last]
    else:
        node[last] = value
    return document


WRONG_REQUESTS = [
    pytest.param(_changed(_notebook_2025(), "executable", None), id="no-executable"),
    pytest.param(_changed(_notebook_2025(), "executable.type", None), id="executable-without-type"),
    pytest.param(_changed(_notebook_2025(), "resources.compute.0.cores.requested.min", "two"), id="cores-as-word"),
    pytest.param(_changed(_notebook_2025(), "resources.compute.0.cores.requested.min", -3), id="negative-cores"),
    pytest.param(_changed(_notebook_2025(), "resources.compute.0.cores.requested.min", 2.5), id="fractional-cores"),
    pytest.param(_changed(_notebook_2025(), "resources.compute.0.cores", {"least": 2}), id="unknown-range-key"),
    pytest.param(_changed(_notebook_2025(), "schedule.requested.duration", "two hours"), id="duration-in-words"),
    pytest.param(_changed(_notebook_2025(), "schedule.requested.duration", "P1M"), id="duration-in-months"),
    pytest.param(_changed(_notebook_2025(), "schedule.requested.start", ["next tuesday"]), id="start-in-words"),
    pytest.param(
        _changed(_notebook_2026(), "resources", {"compute": [{"cores": {"min": 2}}]}),
        id="2026-document-with-2025-resources",
    ),
    pytest.param(_changed(_notebook_2026(), "compute.memory.max", "lots"), id="2026-memory-as-word"),
    pytest.param(
        _changed(_notebook_2026(), "volumes", [{"path": "/data", "mode": "WRITEONLY"}]), id="unknown-volume-mode"
    ),
    pytest.param(
        _changed(_notebook_2025(), "executable.network", {"ports": [{"internal": {"port": 70000}}]}),
        id="port-out-of-range",
    ),
]


@pytest.mark.parametrize("document", WRONG_REQUESTS)
def test_wrong_requests_fail_the_request_schema(document):
    assert json_problems("offerset-request.schema.json", document)


WRONG_UPDATES = [
    pytest.param({"update": {"type": "uri:enum-value-update", "path": "phase", "value": "DANCING"}}, id="no-phase"),
    pytest.param({"update": {"type": "uri:enum-value-update", "path": "cores", "value": "4"}}, id="not-phase"),
    pytest.param(
        {"update": {"type": "uri:integer-delta-update", "path": "phase", "value": "ACCEPTED"}}, id="other-update-type"
    ),
    pytest.param({"kind": "uri:enum-value-update", "path": "phase"}, id="no-value"),
    pytest.param({"update": {"path": "phase", "value": "ACCEPTED"}, "path": "phase"}, id="both-forms"),
]


@pytest.mark.parametrize("document", WRONG_UPDATES)
def test_wrong_updates_fail_the_update_schema(document):
    assert json_problems("update-request.schema.json", document)


def test_lowercase_and_2025_phase_names_are_readable_updates():
    for value in ("accepted", "READY", "Cancelled"):
        update = {"kind": "uri:enum-value-update", "path": "phase", "value": value}
        assert json_problems("update-request.schema.json", update) == []


NOTEBOOK_XML = (EXAMPLES / "requests" / "jupyter-notebook.xml").read_bytes()
UPDATE_XML = b"<update-request><update><path>phase</path><value>ACCEPTED</value></update></update-request>"
# (document, root, what the server's 400 must name)
WRONG_XML = [
    pytest.param(
        NOTEBOOK_XML.replace(b"<min>2</min>", b"<min>two</min>"),
        "offers-request",
        "/compute/cores/requested/min",
        id="cores-as-word",
    ),
    pytest.param(
        NOTEBOOK_XML.replace(b"<min>2</min>", b"<min>2.5</min>"),
        "offers-request",
        "/compute/cores/requested/min",
        id="fractional-cores",
    ),
    pytest.param(
        NOTEBOOK_XML.replace(b"<name>notebook-compute</name>", b"<cpus>4</cpus>"),
        "offers-request",
        "cpus",
        id="unknown-element-in-compute",
    ),
    pytest.param(
        NOTEBOOK_XML.replace(b"<schedule>", b"<schedule><colour>blue</colour>"),
        "offers-request",
        "colour",
        id="unknown-element-in-schedule",
    ),
    pytest.param(
        NOTEBOOK_XML.replace(b"<duration>PT2H</duration>", b"<duration><min>soon</min></duration>"),
        "offers-request",
        "/schedule/requested/duration/min",
        id="duration-in-words",
    ),
    pytest.param(
        NOTEBOOK_XML.replace(b"offers-request>", b"offer-request>"), "offers-request", "offer-request", id="wrong-root"
    ),
    pytest.param(UPDATE_XML.replace(b"ACCEPTED", b"DANCING"), "update-request", "/update/value", id="no-such-phase"),
    pytest.param(
        UPDATE_XML.replace(b"</value>", b"</value><colour/>"), "update-request", "colour", id="unknown-element"
    ),
    pytest.param(UPDATE_XML.replace(b"<path>phase", b"<path>cores"), "update-request", "/update/path", id="not-phase"),
]


@pytest.mark.parametrize("data,root,named", WRONG_XML)
def test_wrong_xml_fails_the_xsd(data, root, named):
    assert xml_problems(data, root)


# ---------------------------------------------------------------- a real server's answers


LIVE_PHASES = {"ACCEPTED", "WAITING", "PREPARING", "AVAILABLE", "READY", "RUNNING"}


def _release(http: requests.Session, session_url: str, phase: str | None = None) -> None:
    """Give back what an offer or session holds, so later tests find capacity on the sites. `phase`, when the
    caller has just read it (an offer set lists its offers' phases), spares asking the session for it."""
    if phase is None:
        phase = http.get(session_url, headers={"Accept": "application/json"}).json().get("phase")
    value = "REJECTED" if phase == "OFFERED" else "CANCELLED" if phase in LIVE_PHASES else None
    if value:
        http.post(session_url, json={"kind": "uri:enum-value-update", "path": "phase", "value": value})


@pytest.fixture(autouse=True)
def _release_offers_afterwards(request: pytest.FixtureRequest) -> Iterator[None]:
    """Offers hold site capacity until they expire: reject (or cancel) everything a test created."""
    if "http" not in request.fixturenames:
        yield
        return
    http: requests.Session = request.getfixturevalue("http")
    created: list[str] = []
    http.hooks["response"].append(
        lambda r, *a, **k: created.append(r.headers["Location"]) if r.status_code == 303 else None
    )
    yield
    with requests.Session() as plain:
        for location in created:
            if "/sessions/" in location:
                _release(plain, location)
                continue
            offers = plain.get(location, headers={"Accept": "application/json"}).json().get("offers", [])
            for offer in offers:
                _release(plain, _href(offer), offer.get("phase"))


def post(http: requests.Session, url: str, body: bytes, content_type: str, accept: str = "json"):
    headers = {"Content-Type": content_type, "Accept": ACCEPT[accept]}
    return http.post(url, data=body, headers=headers, allow_redirects=False)


def _href(document: dict[str, Any]) -> str:
    return document.get("href") or document["meta"]["url"]


def _update(value: str, dialect: str) -> bytes:
    if dialect == "2026":
        return json.dumps({"kind": "uri:enum-value-update", "path": "phase", "value": value}).encode()
    return json.dumps({"update": {"type": "uri:enum-value-update", "path": "phase", "value": value}}).encode()


@pytest.mark.parametrize("path", REQUEST_EXAMPLES, ids=lambda p: p.name)
def test_offer_sets_validate_in_every_format(http, service, path):
    created = post(http, service.url("/offersets"), path.read_bytes(), TYPES[path.suffix])
    assert created.status_code == 303, created.text
    first = assert_valid_body(created, "json", "offerset-response.schema.json", "offers-response")
    assert first["result"] == "YES", first["messages"]
    dialect = "2026" if "kind" in first else "2025"
    assert dialect == ("2026" if path.suffix == ".yaml" else "2025")
    for fmt in ACCEPT:
        answer = http.get(created.headers["Location"], headers={"Accept": ACCEPT[fmt]})
        assert answer.status_code == 200
        assert_valid_body(answer, fmt, "offerset-response.schema.json", "offers-response")
    for offer in first["offers"]:
        for fmt in ACCEPT:
            answer = http.get(_href(offer), headers={"Accept": ACCEPT[fmt]})
            assert_valid_body(answer, fmt, "session.schema.json", "execution")


@pytest.mark.parametrize("dialect", ["2025", "2026"])
@pytest.mark.parametrize("fmt", list(ACCEPT))
def test_sessions_validate_through_accept_and_cancel(http, service, dialect, fmt):
    body = EXAMPLES / "requests" / ("jupyter-notebook.json" if dialect == "2025" else "jupyter-notebook.yaml")
    created = post(http, service.url("/offersets"), body.read_bytes(), TYPES[body.suffix])
    offers = created.json()["offers"]
    assert len(offers) >= 2, created.json()["messages"]
    chosen, sibling = _href(offers[0]), _href(offers[1])
    accepted = post(http, chosen, _update("ACCEPTED", dialect), "application/json", fmt)
    assert accepted.status_code == 200, accepted.text
    assert_valid_body(accepted, fmt, "session.schema.json", "execution")
    rejected = http.get(sibling, headers={"Accept": ACCEPT[fmt]})
    assert_valid_body(rejected, fmt, "session.schema.json", "execution")
    cancelled = post(http, chosen, _update("CANCELLED", dialect), "application/json", fmt)
    assert cancelled.status_code == 200, cancelled.text
    assert_valid_body(cancelled, fmt, "session.schema.json", "execution")
    offerset = http.get(created.headers["Location"], headers={"Accept": ACCEPT[fmt]})
    assert_valid_body(offerset, fmt, "offerset-response.schema.json", "offers-response")


def test_rejecting_in_xml_validates(http, service):
    created = post(http, service.url("/offersets"), NOTEBOOK_XML, "application/xml", "xml")
    assert created.status_code == 303, created.text
    root = assert_valid_body(created, "xml", "", "offers-response")
    href = root.find("offers").find("execution").findtext("href")
    update = (
        b"<update-request><update type='uri:enum-value-update'><value>REJECTED</value><path>phase</path>"
        b"</update></update-request>"
    )
    rejected = post(http, href, update, "application/xml", "xml")
    assert rejected.status_code == 200, rejected.text
    assert assert_valid_body(rejected, "xml", "", "execution").findtext("phase") == "REJECTED"


def test_2026_request_in_xml_is_accepted_and_answered_in_2026(http, service):
    body = xmltree.render(_notebook_2026(), root="offers-request")
    created = post(http, service.url("/offersets"), body, "application/xml", "xml")
    assert created.status_code == 303, created.text
    root = assert_valid_body(created, "xml", "", "offers-response")
    assert root.get("kind", "").endswith("/v1.0/types/offerset/execution-offerset-1.0")
    flat = b"<update-request kind='uri:enum-value-update'><path>phase</path><value>ACCEPTED</value></update-request>"
    href = root.find("offers").find("execution").find("meta").findtext("url")
    accepted = post(http, href, flat, "application/xml", "xml")
    assert accepted.status_code == 200, accepted.text
    assert assert_valid_body(accepted, "xml", "", "execution").findtext("phase") == "ACCEPTED"


@pytest.mark.parametrize("fmt", list(ACCEPT))
def test_no_answer_validates(http, service, fmt):
    body = _changed(_notebook_2025(), "executable.type", "https://example.org/types/quantum-circuit-1.0")
    created = post(http, service.url("/offersets"), json.dumps(body).encode(), "application/json")
    answer = http.get(created.headers["Location"], headers={"Accept": ACCEPT[fmt]})
    document = assert_valid_body(answer, fmt, "offerset-response.schema.json", "offers-response")
    result = document.findtext("result") if fmt == "xml" else document["result"]
    assert result == "NO"


@pytest.mark.parametrize("fmt", list(ACCEPT))
def test_direct_session_validates(http, service, fmt):
    body = (EXAMPLES / "requests" / "oligia-webtop.yaml").read_bytes()
    created = post(http, service.url("/direct"), body, "application/yaml", fmt)
    assert created.status_code == 303, created.text
    assert_valid_body(created, fmt, "session.schema.json", "execution")


def _conflict(http: requests.Session, service, fmt: str) -> requests.Response:
    offers = post(http, service.url("/offersets"), json.dumps(_notebook_2025()).encode(), "application/json")
    href = _href(offers.json()["offers"][0])
    assert post(http, href, _update("REJECTED", "2025"), "application/json").status_code == 200
    return post(http, href, _update("ACCEPTED", "2025"), "application/json", fmt)


ERRORS = {
    400: lambda http, service, fmt: post(http, service.url("/offersets"), b"{", "application/json", fmt),
    404: lambda http, service, fmt: http.get(service.url("/sessions/not-a-uuid"), headers={"Accept": ACCEPT[fmt]}),
    405: lambda http, service, fmt: http.delete(service.url("/offersets"), headers={"Accept": ACCEPT[fmt]}),
    409: _conflict,
    415: lambda http, service, fmt: post(http, service.url("/offersets"), b"x", "text/plain", fmt),
}


@pytest.mark.parametrize("fmt", list(ACCEPT))
@pytest.mark.parametrize("status", sorted(ERRORS))
def test_error_documents_validate(http, service, status, fmt):
    answer = ERRORS[status](http, service, fmt)
    assert answer.status_code == status, answer.text
    document = assert_valid_body(answer, fmt, "error.schema.json", "error")
    assert (int(document.findtext("status")) if fmt == "xml" else document["status"]) == status


@pytest.mark.parametrize("fmt", list(ACCEPT))
@pytest.mark.parametrize("tasktype,word", [("uri://jupyter-notebook", "YES"), ("uri://quantum-circuit", "NO")])
def test_accepts_answers_validate(http, service, fmt, tasktype, word):
    answer = http.get(
        service.url("/accepts"),
        params={"tasktype": tasktype, "resources.mincores": "2", "resources.minduration": "PT1H"},
        headers={"Accept": ACCEPT[fmt]},
    )
    assert answer.status_code == 200, answer.text
    document = assert_valid_body(answer, fmt, "accepts-response.schema.json", "execution-planner-response")
    assert (document.findtext("reponseword") if fmt == "xml" else document["reponseword"]) == word


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_accepts_multipart_answer_validates(http, service, fmt):
    compose = yaml.safe_dump({"services": {"web": {"image": "nginx:1.27", "ports": ["8080:80"]}}})
    answer = http.post(
        service.url("/accepts"),
        files={"tasktype": (None, "uri://docker-compose"), "taskinfo.composefile": ("compose.yaml", compose)},
        headers={"Accept": ACCEPT[fmt]},
    )
    assert answer.status_code == 200, answer.text
    assert_valid_body(answer, fmt, "accepts-response.schema.json", "execution-planner-response")


@pytest.mark.parametrize("data,root,named", WRONG_XML)
def test_server_refuses_structurally_wrong_xml_naming_the_problem(http, service, data, root, named):
    if root == "offers-request":
        url = service.url("/offersets")
    else:
        created = post(http, service.url("/offersets"), json.dumps(_notebook_2025()).encode(), "application/json")
        url = _href(created.json()["offers"][0])
    answer = post(http, url, data, "application/xml")
    assert answer.status_code == 400, answer.text
    error = assert_valid_body(answer, "json", "error.schema.json", "error")
    text = error["messages"][0]["message"]
    assert named in text, text


# ---------------------------------------------------------------- what the writer can emit beyond today's server


def _running_session(dialect: Dialect) -> Session:
    """A session with every optional part filled in: later phase, access methods, GPUs, maps, all resources."""
    now = datetime(2026, 3, 1, 9, 30, 15, 250000, tzinfo=UTC)
    block = ScheduleBlock(start=now, duration=timedelta(hours=1, minutes=30))
    return Session(
        uuid=uuid4(),
        created=now,
        phase=Phase.AVAILABLE,
        dialect=dialect,
        name="webtop",
        executable=Executable(
            kind=ExecutableKind.DOCKER_CONTAINER,
            uuid=uuid4(),
            created=now,
            image=Image(locations=["ghcr.io/ivoa/oligia-webtop:ubuntu-2022.01.13"], digest="sha256:0a1b"),
            entrypoint="/init",
            command=["--verbose", "--port=3000"],
            privileged=True,
            environment={"TZ": "UTC", "EMPTY": ""},
            ports=[Port(internal=3000, external=443, protocol="HTTPS", path="/", addresses=["192.0.2.7"])],
            access=[AccessMethod(protocol="HTTPS", status="AVAILABLE", locations=["https://192.0.2.7/"])],
        ),
        compute=[
            ComputeResource(
                uuid=uuid4(),
                cores=MinMax(min=2, max=8),
                memory=MinMax(min=4),
                cores_offered=MinMax(min=4, max=4),
                memory_offered=MinMax(min=8, max=8),
                volumes=[VolumeMount(name="data", path="/data", mode="READWRITE", resources=["input"])],
            )
        ],
        storage=[StorageResource(uuid=uuid4(), name="scratch", size=MinMax(min=10), size_offered=MinMax(min=10))],
        data=[DataResource(uuid=uuid4(), name="input", location="https://example.org/cube.fits", size_bytes=1024)],
        requested=ScheduleRequest(
            duration_min=timedelta(hours=1),
            duration_max=timedelta(days=1, seconds=1),
            start=[Interval(start=now, duration=timedelta(hours=8))],
        ),
        schedule=ScheduleOffer(preparing=block, available=block, releasing=block),
        placement=Placement(
            site="IFCA-LCG2",
            vo="vo.access.egi.eu",
            flavor_id="f1",
            flavor_name="g1.large",
            image_name="ubuntu-22.04",
            network_name="public",
            cores=4,
            memory_mib=8 * 1024 + 1,
            gpus=1,
        ),
        messages=[Message.warn("site {site} is busy", site="IFCA-LCG2")],
    )


@pytest.mark.parametrize("fmt", list(Format))
@pytest.mark.parametrize("dialect", [Dialect.BROKER_2025, Dialect.CALYCOPIS_2026])
def test_a_fully_populated_session_validates(dialect, fmt):
    tree = encode.session_tree(_running_session(dialect), "https://broker.example.org", [Phase.CANCELLED])
    body = wire.render(tree, fmt, root=codec.ROOT_SESSION)
    if fmt is Format.XML:
        assert xml_problems(body, "execution") == []
    else:
        document = json.loads(body) if fmt is Format.JSON else yaml_load(body)
        assert json_problems("session.schema.json", document) == []
        assert document["placement"]["memory"] == 9, "memory is whole GiB, rounded up"


def _session_document(dialect: Dialect) -> dict[str, Any]:
    tree = encode.session_tree(_running_session(dialect), "https://broker.example.org", [Phase.CANCELLED])
    return json.loads(wire.render(tree, Format.JSON, root=codec.ROOT_SESSION))


def _offerset_document() -> dict[str, Any]:
    offer = _changed(_session_document(Dialect.BROKER_2025), "phase", "OFFERED")
    offer["expires"] = "2026-03-01T09:35:15Z"
    return {
        "type": "https://www.purl.org/ivoa.net/EB/schema/types/offersets/offerset-response-1.0",
        "uuid": str(uuid4()),
        "created": "2026-03-01T09:30:15Z",
        "href": "https://broker.example.org/offersets/x",
        "result": "YES",
        "offers": [offer],
        "messages": [],
    }


ERROR = {"status": 409, "title": "Conflict", "messages": _session_document(Dialect.BROKER_2025)["messages"]}
YES = {
    "reponseword": "YES",
    "responseword": "YES",
    "servicetype": "ivo://example.org/std/ExecutionBroker",
    "serviceinfo": {"endpoint": "https://broker.example.org/offersets"},
    "resources": {"mincores": "2", "cores": 2},
    "interfaces": [
        {
            "servicetype": "ivo://example.org/std/ExecutionBroker",
            "serviceinfo": {"endpoint": "https://broker.example.org/offersets", "site": "IFCA-LCG2", "flavor": "m1"},
        }
    ],
}
WRONG_ANSWERS = [
    pytest.param(
        "session.schema.json",
        _changed(_session_document(Dialect.BROKER_2025), "phase", "AVAILABLE"),
        id="2026-phase-name-in-2025-session",
    ),
    pytest.param(
        "session.schema.json",
        _changed(_session_document(Dialect.CALYCOPIS_2026), "uuid", str(uuid4())),
        id="2025-identity-in-2026-session",
    ),
    pytest.param(
        "session.schema.json",
        _changed(_session_document(Dialect.BROKER_2025), "created", "yesterday"),
        id="created-not-an-instant",
    ),
    pytest.param(
        "session.schema.json",
        _changed(_session_document(Dialect.BROKER_2025), "schedule.executing.duration", "P1M"),
        id="duration-in-months",
    ),
    pytest.param(
        "session.schema.json",
        _changed(_session_document(Dialect.BROKER_2025), "placement.site", None),
        id="placement-without-site",
    ),
    pytest.param(
        "session.schema.json",
        _changed(_session_document(Dialect.BROKER_2025), "messages.0.level", "LOUD"),
        id="unknown-message-level",
    ),
    pytest.param(
        "offerset-response.schema.json", _changed(_offerset_document(), "offers", []), id="yes-without-offers"
    ),
    pytest.param(
        "offerset-response.schema.json", _changed(_offerset_document(), "result", "MAYBE"), id="unknown-result"
    ),
    pytest.param(
        "offerset-response.schema.json",
        _changed(_offerset_document(), "offers.0.expires", None),
        id="offer-without-expiry",
    ),
    pytest.param("error.schema.json", _changed(ERROR, "messages", []), id="error-without-message"),
    pytest.param("error.schema.json", _changed(ERROR, "status", 200), id="error-with-success-status"),
    pytest.param("accepts-response.schema.json", _changed(YES, "responseword", "NO"), id="answer-words-disagree"),
    pytest.param("accepts-response.schema.json", _changed(YES, "interfaces", None), id="yes-without-interfaces"),
]


def test_the_wrong_answer_fixtures_start_from_valid_documents():
    assert json_problems("session.schema.json", _session_document(Dialect.BROKER_2025)) == []
    assert json_problems("offerset-response.schema.json", _offerset_document()) == []
    assert json_problems("error.schema.json", ERROR) == []
    assert json_problems("accepts-response.schema.json", YES) == []


@pytest.mark.parametrize("schema,document", WRONG_ANSWERS)
def test_wrong_answers_fail_their_schema(schema, document):
    assert json_problems(schema, document)

"""Issue #16 point 4: values no format or database can carry were stored (every later GET then 500, or the POST
500 on PostgreSQL). Each is refused at reading with a 400 naming the field; each borderline value that is
accepted reads back in JSON, YAML and XML."""

from __future__ import annotations

import json

import pytest
import requests
import yaml
from hostile import NOTEBOOK
from lxml import etree

LARGEST = 2**53 - 1
ACCEPTS = ("application/json", "application/yaml", "application/xml")
EXE = f"executable: {{type: '{NOTEBOOK}', location: 'https://example.org/a.ipynb'}}\n"
UNKNOWN = "executable: {type: 'urn:example:quantum-annealer', location: 'https://example.org/x'}\n"


def post(service, body: str | bytes, content_type: str = "application/yaml") -> requests.Response:
    data = body.encode() if isinstance(body, str) else body
    return requests.post(
        service.url("/offersets"), data=data, headers={"Content-Type": content_type}, allow_redirects=False, timeout=30
    )


def as_json(document: dict) -> bytes:
    return json.dumps(document).encode()


def notebook(**extra) -> dict:
    return {"executable": {"type": NOTEBOOK, "location": "https://example.org/a.ipynb"}, **extra}


REFUSED = [
    pytest.param(EXE + "resources: {compute: [{cores: {min: " + "9" * 5000 + "}}]}\n", "cores", id="int-5000-digits"),
    pytest.param(UNKNOWN + f"n: {2**64 + 1}\n", "n", id="int-above-2**64-unknown-type"),
    pytest.param(UNKNOWN + "n: .inf\n", "n", id="inf-unknown-type"),
    pytest.param(UNKNOWN + "n: .nan\n", "n", id="nan-unknown-type"),
    pytest.param(UNKNOWN + "n: -.inf\n", "n", id="minus-inf"),
    pytest.param(EXE + "schedule: {requested: {duration: P99999999999D}}\n", "duration", id="duration-days"),
    pytest.param(EXE + "schedule: {requested: {duration: PT99999999999999S}}\n", "duration", id="duration-seconds"),
    pytest.param(EXE + "schedule: {requested: {duration: P4000D}}\n", "duration", id="duration-over-ten-years"),
    pytest.param(EXE + "schedule: {requested: {start: '9999-12-31T23:59:59Z'}}\n", "start", id="start-9999"),
    pytest.param(
        EXE + "schedule: {requested: {start: '2030-01-01T00:00:00Z/P99999999999D'}}\n", "start", id="interval-huge"
    ),
    pytest.param(as_json(notebook(vo="vo\u0001x")), "vo", id="control-in-vo"),
    pytest.param(
        as_json({"executable": {"type": NOTEBOOK, "location": "https://e.org/\u0002"}}),
        "location",
        id="control-in-location",
    ),
    pytest.param(as_json({"executable": {"type": "urn:x\u0003", "location": "x"}}), "type", id="control-in-type"),
    pytest.param(as_json(notebook(name="a\nb")), "name", id="newline-in-name"),
    pytest.param(
        as_json(notebook(volumes=[{"path": "/data\u0000", "resources": ["s"]}])), "path", id="nul-in-volume-path"
    ),
    pytest.param(as_json(notebook(notes="free \u0007 text")), "notes", id="bell-in-any-string"),
    pytest.param(as_json(notebook(**{"ke\u0001y": "v"})), "ke", id="control-in-a-key"),
    pytest.param(
        b'{"executable": {"type": "' + NOTEBOOK.encode() + b'", "location": "\\ud800"}}',
        "JSON",
        id="lone-surrogate-json",
    ),
    pytest.param(UNKNOWN + 'n: "\\ud800"\n', "n", id="lone-surrogate-yaml"),
    pytest.param(UNKNOWN + 'n: "\\x85\\x9f"\n', "n", id="c1-controls-yaml"),
    pytest.param(as_json(notebook(n=1e300)), "n", id="float-too-large"),
    pytest.param(as_json(notebook(n=2**63)), "n", id="int-above-2**63-json"),
]


@pytest.mark.parametrize("body,field", REFUSED)
def test_out_of_range_values_are_400_naming_the_field(service, body, field):
    content_type = "application/json" if isinstance(body, bytes) else "application/yaml"
    answer = post(service, body, content_type)
    assert answer.status_code == 400, answer.text[:300]
    message = answer.json()["messages"][0]["message"]
    assert field in message, message


def test_phase_update_with_control_character_is_400(service):
    created = requests.get(post(service, as_json(notebook()), "application/json").headers["Location"], timeout=30)
    href = created.json()["offers"][0]["href"]
    answer = requests.post(
        href, json={"update": {"type": "uri:enum-value-update", "path": "phase", "value": "ACCEPTED\u0001"}}, timeout=30
    )
    assert answer.status_code == 400
    assert "value" in answer.json()["messages"][0]["message"]


BORDERLINE = [
    pytest.param(UNKNOWN + f"n: {LARGEST}\nm: {-LARGEST}\n", id="largest-integers-unknown-type"),
    pytest.param(UNKNOWN + "n: 1.0e15\nm: 1.0e-300\n", id="finite-floats-unknown-type"),
    pytest.param(EXE + "resources: {compute: [{cores: {min: " + str(LARGEST) + "}}]}\n", id="largest-core-count"),
    pytest.param(EXE + "resources: {compute: [{memory: {min: " + str(LARGEST) + "}}]}\n", id="largest-memory"),
    pytest.param(EXE + "data: [{location: 'https://e.org/d', size: " + str(LARGEST) + "}]\n", id="largest-data-size"),
    pytest.param(EXE + "schedule: {requested: {duration: P3660D}}\n", id="ten-year-duration"),
    pytest.param(EXE + "schedule: {requested: {start: '2199-12-31T00:00:00Z'}}\n", id="start-2199"),
    pytest.param(EXE + "schedule: {requested: {start: '2199-12-31T00:00:00Z/P3660D'}}\n", id="start-2199-ten-years"),
    pytest.param(as_json(notebook(name="ünïcødé 🚀 名前", notes="tab\tand\nnewlines\r\nin free text")), id="unicode"),
    pytest.param(as_json(notebook(name="x" * 256)), id="longest-name"),
    pytest.param(
        as_json({"executable": {"type": "urn:example:quantum-annealer", "name": "🚀", "location": "x" * 10000}}),
        id="long-location-unknown-type",
    ),
]


@pytest.mark.parametrize("body", BORDERLINE)
def test_accepted_borderline_documents_read_back_in_every_format(service, body):
    content_type = "application/json" if isinstance(body, bytes) else "application/yaml"
    answer = post(service, body, content_type)
    if answer.status_code == 400:
        assert answer.json()["messages"][0]["message"]  # refused cleanly, saying why (the model's own bounds)
        return
    assert answer.status_code == 303, answer.text[:300]
    location = answer.headers["Location"]
    for accept in ACCEPTS:
        got = requests.get(location, headers={"Accept": accept}, timeout=30)
        assert got.status_code == 200, (accept, got.text[:300])
        parsed = {
            "application/json": lambda b: json.loads(b),
            "application/yaml": lambda b: yaml.safe_load(b),
            "application/xml": lambda b: etree.fromstring(b),
        }[accept](got.content)
        assert parsed is not None
        offers = got.json()["offers"] if accept == "application/json" else []
        for offer in offers:
            for session_accept in ACCEPTS:
                session = requests.get(offer["href"], headers={"Accept": session_accept}, timeout=30)
                assert session.status_code == 200, (session_accept, session.text[:300])


@pytest.mark.parametrize(
    "parameter,value",
    [
        ("resources.mincores", "2147483648"),
        ("resources.maxmemory", "9" * 30),
        ("resources.minduration", "P99999999999D"),
        ("resources.maxduration", "99999999999999999999"),
        ("resources.minduration", "-PT1H"),
    ],
)
def test_note_questions_out_of_range_are_400(service, parameter, value):
    """Found by `make fuzz`: the 2022-note `/accepts` answered these with a 500."""
    answer = requests.get(
        service.url("/accepts"), params={"tasktype": "uri://jupyter-notebook", parameter: value}, timeout=30
    )
    assert answer.status_code == 400, answer.text[:300]
    assert parameter in answer.json()["messages"][0]["message"]


def test_note_question_echoes_a_huge_numeral_as_text(service):
    answer = requests.get(
        service.url("/accepts"),
        params={"tasktype": "uri://jupyter-notebook", "resources.maxstartup": "9" * 5000},
        headers={"Accept": "application/xml"},
        timeout=30,
    )
    assert answer.status_code < 500, answer.text[:300]

"""Issue #16 / #14 point 5: the hardening attacked by someone who did not write it, against a real server on SQLite
and PostgreSQL. What broke is pinned first (each failed before its fix); then a compact set of the attacks that
held — one of each kind, on every endpoint that reads a body — so they keep holding.

What broke:
* YAML tags that build values no format carries (`!!binary` bytes, `!!set`, a date as a map key) in a request of
  an unknown executable type were a 500 (the stored document could not be encoded as JSON).
* POST /accepts read multipart bodies outside the body limit: a chunked body (no Content-Length) of 200 MB was
  read whole and answered 200, and each `taskinfo.*` part was parsed as YAML on the event loop (a 450,000-deep
  part held /healthz for 350 ms, per request).
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
import requests
import yaml
from hostile import NOTEBOOK, HealthProbe, serving, yaml_alias_bomb
from lxml import etree
from support.rawhttp import read_head

HEALTHZ_WITHIN = 0.100
ACCEPTS = ("application/json", "application/yaml", "application/xml")
UNKNOWN = "urn:example:quantum-annealer"
WRITE_ENDPOINTS = ("/offersets", "/requests", "/direct", "/sessions")
MULTIPART = "multipart/form-data; boundary=XyZ"


def post(service, path: str, body: bytes, content_type: str, **headers: str) -> requests.Response:
    return requests.post(
        service.url(path),
        data=body,
        headers={"Content-Type": content_type, **headers},
        allow_redirects=False,
        timeout=60,
    )


def yaml_request(extra: str, executable_type: str = UNKNOWN) -> bytes:
    return f"executable: {{type: '{executable_type}', location: 'https://example.org/x'}}\n{extra}\n".encode()


def json_request(**extra) -> bytes:
    return json.dumps({"executable": {"type": NOTEBOOK, "location": "https://example.org/a.ipynb"}, **extra}).encode()


def multipart(parts: list[tuple[str, bytes]]) -> bytes:
    body = b"".join(
        b'--XyZ\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n' + value + b"\r\n"
        for name, value in parts
    )
    return body + b"--XyZ--\r\n"


def assert_error_document(answer: requests.Response, status: int, *words: str) -> None:
    assert answer.status_code == status, answer.text[:300]
    message = answer.json()["messages"][0]["message"]
    for word in words:
        assert word in message, message


def assert_reads_back_in_every_format(location: str) -> None:
    """Every later GET of what was accepted works in JSON, YAML and XML, the offer set and its offers."""
    for accept in ACCEPTS:
        got = requests.get(location, headers={"Accept": accept}, timeout=30)
        assert got.status_code == 200, (accept, got.text[:300])
        {"application/json": json.loads, "application/yaml": yaml.safe_load, "application/xml": etree.fromstring}[
            accept
        ](got.content)
    document = requests.get(location, headers={"Accept": "application/json"}, timeout=30).json()
    for offer in document.get("offers", [])[:2]:
        for accept in ACCEPTS:
            got = requests.get(offer["href"], headers={"Accept": accept}, timeout=30)
            assert got.status_code == 200, (accept, got.text[:300])


# ---------------------------------------------------------------------------------------------- what broke


@pytest.mark.parametrize(
    "extra,field",
    [
        pytest.param("blob: !!binary AAEC", "blob", id="binary"),
        pytest.param("bag: !!set {a, b}", "bag", id="set"),
        pytest.param("2001-12-14: x", "2001-12-14", id="date-as-key"),
        pytest.param("notes: {inner: [!!binary AAEC]}", "notes.inner[0]", id="binary-nested"),
    ],
)
def test_yaml_values_no_format_carries_are_400_naming_the_field(service, extra, field):
    answer = post(service, "/offersets", yaml_request(extra), "application/yaml")
    assert_error_document(answer, 400, field)


def test_yaml_timestamps_in_unknown_fields_still_read_back(service):
    answer = post(
        service, "/offersets", yaml_request("when: 2001-12-14t21:59:43.10-05:00\nday: 2001-12-14"), "application/yaml"
    )
    assert answer.status_code == 303, answer.text[:300]
    assert_reads_back_in_every_format(answer.headers["Location"])


def _chunks(count: int, size: int) -> Iterator[bytes]:
    yield b'--XyZ\r\nContent-Disposition: form-data; name="tasktype"\r\n\r\njupyter-notebook\r\n'
    for index in range(count):
        yield b'--XyZ\r\nContent-Disposition: form-data; name="f%d"\r\n\r\n' % index + b"y" * size + b"\r\n"
    yield b"--XyZ--\r\n"


def test_chunked_multipart_beyond_the_body_limit_is_413(service):
    """requests sends a generator chunked, without Content-Length: 8 MB against the 1 MB default limit."""
    answer = requests.post(
        service.url("/accepts"), data=_chunks(8, 1_000_000), headers={"Content-Type": MULTIPART}, timeout=60
    )
    assert_error_document(answer, 413, "limit")


def test_chunked_urlencoded_beyond_the_body_limit_is_413(service):
    answer = requests.post(
        service.url("/accepts"),
        data=(b"tasktype=jupyter-notebook&" if i == 0 else b"x" * 500_000 for i in range(5)),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=60,
    )
    assert_error_document(answer, 413, "limit")


@pytest.fixture(scope="module")
def own_process(tmp_path_factory, roomy_catalogue):
    """A server in a process of its own, so /healthz latency measures its event loop, not this test's GIL."""
    with serving(tmp_path_factory.mktemp("attack"), roomy_catalogue) as (base_url, _port, _process):
        yield base_url


@pytest.mark.alone  # a latency bound: beside no other test (docs/testing.md)
def test_multipart_parts_are_parsed_off_the_event_loop(own_process):
    deep = b"[" * 400_000 + b"]" * 400_000
    body = multipart([("tasktype", b"jupyter-notebook"), ("taskinfo.extra", deep)])
    worst = []
    for _ in range(3):  # up to three runs: a busy neighbour on this shared machine can delay one probe alone
        with HealthProbe(own_process + "/healthz").running() as probe:
            answers = [
                requests.post(own_process + "/accepts", data=body, headers={"Content-Type": MULTIPART}, timeout=60)
                for _ in range(3)
            ]
        assert_error_document(answers[0], 400, "taskinfo.extra", "64")
        assert probe.latencies, "the prober never got an answer"
        worst.append(probe.worst)
        if probe.worst < HEALTHZ_WITHIN:
            return
    # Before: 0.35-0.94 s per request, the part parsed on the loop; then 40-340 ms in every run with the part parsed
    # in a worker thread, which holds the GIL between switches. Now a body this large is parsed in a parser process.
    raise AssertionError(f"/healthz took {worst} s at worst while a multipart part was parsed")


def test_multipart_within_the_limit_still_answers(service):
    body = multipart(
        [("tasktype", b"jupyter-notebook"), ("taskinfo.extra", b"{a: 1, b: [x, y]}"), ("resources.mincores", b"2")]
    )
    answer = post(service, "/accepts", body, MULTIPART, Accept="application/xml")
    assert answer.status_code == 200, answer.text[:300]
    etree.fromstring(answer.content)


# ----------------------------------------------------------------------------------------- what held

NESTED = 100_000
REFUSED_BODIES = [
    pytest.param(yaml_alias_bomb(48), "application/yaml", 400, "aliases", id="yaml-bomb-48"),
    pytest.param(yaml_alias_bomb(65, per_level=2), "application/yaml", 400, "aliases", id="yaml-bomb-65-aliases"),
    pytest.param(b"a: &a [*a]\n", "application/yaml", 400, "", id="yaml-recursive-alias"),
    pytest.param(b"x: !!python/object/apply:os.system [true]\n", "application/yaml", 400, "", id="yaml-python-tag"),
    pytest.param(b"[" * NESTED + b"]" * NESTED, "application/yaml", 400, "64", id="yaml-deep-1e5"),
    pytest.param(b'{"a":' * NESTED + b"1" + b"}" * NESTED, "application/json", 400, "64 levels", id="json-deep-1e5"),
    pytest.param(
        b"<offers-request>" + b"<a>" * NESTED + b"</a>" * NESTED + b"</offers-request>",
        "application/xml",
        400,
        "",
        id="xml-deep-1e5",
    ),
    pytest.param(
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        b'<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
        b"<offers-request><name>&d;&d;&d;&d;</name></offers-request>",
        "application/xml",
        400,
        "",
        id="xml-billion-laughs",
    ),
    pytest.param(
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<offers-request><name>&x;</name></offers-request>",
        "application/xml",
        400,
        "",
        id="xml-xxe-file",
    ),
    pytest.param(
        b'<offers-request xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file:///etc/passwd" '
        b'parse="text"/></offers-request>',
        "application/xml",
        400,
        "",
        id="xml-xinclude",
    ),
    pytest.param(
        json.dumps({"executable": {"type": UNKNOWN, "location": "x"}, **{f"k{i}": i for i in range(20_000)}}).encode(),
        "application/json",
        400,
        "",
        id="json-20000-keys",
    ),
    pytest.param(
        b"<offers-request>" + b"<u>x</u>" * 60_000 + b"</offers-request>",
        "application/xml",
        400,
        "",
        id="xml-60000-elements",
    ),
    pytest.param(
        b'{"executable": {"type": "' + UNKNOWN.encode() + b'", "location": "x"}, "n": Infinity}',
        "application/json",
        400,
        "n",
        id="json-Infinity",
    ),
    pytest.param(
        b'{"executable": {"type": "' + UNKNOWN.encode() + b'", "location": "x"}, "n": 1e400}',
        "application/json",
        400,
        "n",
        id="json-1e400",
    ),
    pytest.param(yaml_request("n: 0x" + "f" * 40), "application/yaml", 400, "n", id="yaml-hex-huge"),
    pytest.param(
        json_request(resources={"compute": [{"memory": {"min": 2**63}}]}),
        "application/json",
        400,
        "memory",
        id="memory-2**63",
    ),
    pytest.param(
        json_request(schedule={"requested": {"duration": "PT9223372036854775808S"}}),
        "application/json",
        400,
        "duration",
        id="duration-int64",
    ),
    pytest.param(
        json_request(schedule={"requested": {"start": "0001-01-01T00:00:00Z"}}),
        "application/json",
        400,
        "start",
        id="start-year-1",
    ),
    pytest.param(
        json_request(schedule={"requested": {"start": "2030-01-01T00:00:00Z/P99999D"}}),
        "application/json",
        400,
        "start",
        id="interval-99999-years",
    ),
    pytest.param(
        b'{"executable": {"type": "' + NOTEBOOK.encode() + b'", "location": "https://e.org/\xc3\x28"}}',
        "application/json",
        400,
        "",
        id="invalid-utf8-json",
    ),
    pytest.param(
        b"<offers-request><name>\xff</name></offers-request>", "application/xml", 400, "", id="invalid-utf8-xml"
    ),
    pytest.param(
        b"<offers-request><name>&#1;</name></offers-request>", "application/xml", 400, "", id="xml-charref-control"
    ),
    pytest.param(json_request(name="a\u202eb"), "application/json", 400, "name", id="rtl-override-in-name"),
    pytest.param(json_request(name="a\u2028b"), "application/json", 400, "name", id="line-separator-in-name"),
    pytest.param(json_request(vo="a\x00b"), "application/json", 400, "vo", id="nul-in-vo"),
    pytest.param(json_request(), "text/plain", 415, "", id="content-type-text-plain"),
]


@pytest.mark.parametrize("path", WRITE_ENDPOINTS)
@pytest.mark.parametrize("body,content_type,status,word", REFUSED_BODIES)
def test_hostile_bodies_are_refused_with_an_error_document(service, path, body, content_type, status, word):
    answer = post(service, path, body, content_type)
    assert answer.status_code == status, answer.text[:300]
    assert answer.json()["messages"][0]["message"]
    assert word in answer.json()["messages"][0]["message"]


@pytest.mark.alone  # a latency bound: beside no other test (docs/testing.md)
def test_hostile_bodies_leave_healthz_answering(service):
    with HealthProbe(service.url("/healthz")).running() as probe:
        for body in (yaml_alias_bomb(48), b"[" * NESTED + b"]" * NESTED):
            post(service, "/offersets", body, "application/yaml")
        post(
            service,
            "/offersets",
            b"<offers-request>" + b"<a>" * NESTED + b"</a>" * NESTED + b"</offers-request>",
            "application/xml",
        )
    assert probe.latencies
    assert probe.worst < HEALTHZ_WITHIN, f"/healthz took {probe.worst:.3f} s"


ACCEPTED_STRINGS = [
    pytest.param("location", "https://e.org/a\u2028b", id="u2028-in-location"),
    pytest.param("location", "https://e.org/\u202eexe.txt", id="rtl-in-location"),
    pytest.param("vo", "vo\u200d.example", id="zwj-in-vo"),
    pytest.param("notes", "\ufeffbom and \U0001f600 and tab\t", id="bom-emoji-in-free-text"),
    pytest.param("site", "x" * 200_000, id="200000-chars"),
]


@pytest.mark.parametrize("field,value", ACCEPTED_STRINGS)
def test_odd_but_carriable_strings_read_back_in_every_format(service, field, value):
    if field == "location":
        body = json.dumps({"executable": {"type": NOTEBOOK, "location": value}}).encode()
    else:
        body = json_request(**{field: value})
    answer = post(service, "/offersets", body, "application/json")
    if answer.status_code == 400:  # refusing is fine, if it says why
        assert answer.json()["messages"][0]["message"]
        return
    assert answer.status_code == 303, answer.text[:300]
    assert_reads_back_in_every_format(answer.headers["Location"])


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("path", (*WRITE_ENDPOINTS, "/accepts"))
def test_50_mb_bodies_are_413_without_being_read(service, path, chunked):
    size = 50 * 1024 * 1024
    content_type = MULTIPART if path == "/accepts" else "application/json"
    if chunked:
        head = b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n"
        head %= (path.encode(), content_type.encode())
        piece = b"%x\r\n" % (1024 * 1024) + b"x" * (1024 * 1024) + b"\r\n"
    else:
        head = b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
        head %= (path.encode(), content_type.encode(), size)
        piece = b"x" * (1024 * 1024)
    with socket.create_connection(("127.0.0.1", service.port), timeout=30) as conn:
        conn.sendall(head)
        sent = 0
        try:
            for _ in range(50):
                conn.sendall(piece)
                sent += 1
        except OSError:
            pass  # the server answered and closed before the rest: what we want
        reply = read_head(conn)
    status = reply.split(b" ", 2)[1]
    assert status in (b"413", b"400"), reply[:300]  # 400 only for /accepts: a boundary never seen is malformed


@pytest.mark.parametrize(
    "name,value",
    [
        (b"X-Request-ID", b"\xe2\x80\xae-rtl"),
        (b"X-Request-ID", b"\xff\xfe"),
        (b"X-Request-ID", b"a\x01b"),
        (b"X-Request-ID", b"x" * 60_000),
        (b"Accept", b"\xff"),
        (b"Content-Type", b"application/json; charset=\xff"),
        (b"X-Forwarded-For", b"\xff, 1.2.3.4"),
        (b"X-Forwarded-Proto", b"https\x01"),
        (b"X-Forwarded-Host", b"evil.example"),
        (b"Forwarded", b"host=evil.example;proto=https"),
    ],
    ids=lambda v: v[:16].decode("latin-1").encode("unicode_escape").decode(),
)
def test_odd_header_bytes_never_500_nor_steer_links(service, name, value):
    body = json_request()
    request = (
        b"POST /offersets HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n%s: %s\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (service.port, name, value, len(body))
    ) + body
    with socket.create_connection(("127.0.0.1", service.port), timeout=30) as conn:
        conn.sendall(request)
        reply = b""
        while data := conn.recv(65536):
            reply += data
    status = int(reply.split(b" ", 2)[1])
    assert status < 500, reply[:300]
    assert b"evil.example" not in reply and b"https://" not in reply.split(b"\r\n\r\n")[0]


@pytest.mark.parametrize(
    "parameter,value",
    [
        ("tasktype", "a%01"),
        ("tasktype", "%ED%B3%BF"),
        ("tasktype", "x" * 100_000),
        ("resources.mincores", "inf"),
        ("resources.mincores", "nan"),
        ("resources.maxmemory", "1e308"),
        ("resources.mincores", "-5"),
    ],
    ids=["control", "lone-surrogate", "100000-chars", "inf", "nan", "1e308", "negative"],
)
def test_note_query_parameters_never_500(service, parameter, value):
    """Values are sent as written (already percent-encoded); each answer echoes the question, in every format."""
    query = f"tasktype=uri://jupyter-notebook&{parameter}={value}"
    for accept in ACCEPTS:
        answer = requests.get(service.url("/accepts") + "?" + query, headers={"Accept": accept}, timeout=30)
        assert answer.status_code < 500, answer.text[:300]


@pytest.mark.parametrize(
    "parts",
    [
        pytest.param([("tasktype", b"docker-compose"), ("taskinfo.composefile", yaml_alias_bomb(48))], id="bomb"),
        pytest.param(
            [("tasktype", b"jupyter-notebook")] + [(f"taskinfo.k{i}", b"v") for i in range(2000)], id="2000-fields"
        ),
        pytest.param([("tasktype", b"\xff\xfe")], id="invalid-utf8"),
        pytest.param([("tasktype", b"jupyter-notebook"), ("resources.mincores", b"9" * 5000)], id="huge-cores"),
        pytest.param(
            [("tasktype", b"jupyter-notebook"), ("taskinfo.x", b"b: !!binary AAEC\ns: !!set {a}\n")],
            id="yaml-binary-part",
        ),
    ],
)
def test_note_multipart_attacks_never_500(service, parts):
    answer = post(service, "/accepts", multipart(parts), MULTIPART)
    assert answer.status_code < 500, answer.text[:300]
    if answer.status_code >= 400:
        assert answer.json()["messages"][0]["message"]

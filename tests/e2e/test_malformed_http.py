"""Issue #16 leftover: a request h11 cannot read (a NUL in a header, a space in a header
name, a bare CR, a request line that is not HTTP) got uvicorn's plain-text 400 "Invalid HTTP request received."
Every 400 is now the same IVOA error document, JSON (the request's Accept header cannot be trusted), and the
connection is closed."""

from __future__ import annotations

import json
import socket

import pytest

HEADS = [
    pytest.param(b"GET /capabilities HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\x00b\r\n\r\n", id="nul-in-header"),
    pytest.param(b"GET /capabilities HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\rSet-Cookie: x=1\r\n\r\n", id="bare-cr"),
    pytest.param(b"GET /capabilities HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Name: x\r\n\r\n", id="space-in-name"),
    pytest.param(
        b"POST /offersets HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/xml\r\nX: \x00\r\n\r\n",
        id="nul-asking-for-xml",
    ),
    pytest.param(b"NOT HTTP AT ALL\r\n\r\n", id="garbage-request-line"),
]


def exchange(port: int, request: bytes) -> bytes:
    """Everything the server answers until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request)
        reply = b""
        while data := conn.recv(65536):
            reply += data
    return reply


@pytest.mark.parametrize("request_head", HEADS)
def test_unreadable_requests_get_our_error_document(service, request_head):
    reply = exchange(service.port, request_head)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 Bad Request"), reply[:300]
    assert b"content-type: application/json" in head.lower()
    assert b"set-cookie" not in head.lower()
    document = json.loads(body)
    assert document["status"] == 400 and document["title"] == "Bad Request"
    assert "not valid HTTP/1.1" in document["messages"][0]["message"]

"""HTTP on a bare socket, for tests that send what a well-behaved client never would."""

from __future__ import annotations

import socket


def read_head(connection: socket.socket) -> bytes:
    """What the server sends until the end of its answer's head (or until it closes): enough for the status."""
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = connection.recv(65536)
        if not chunk:
            break
        answer += chunk
    return answer

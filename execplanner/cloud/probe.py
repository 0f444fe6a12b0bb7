"""Readiness: a VM is AVAILABLE only once what the user will open answers, not merely once Nova says ACTIVE.

A Jupyter server is ready when `GET /api` answers 200 (no token needed); a web service when anything answers
HTTP; a plain TCP service or an ssh-only VM when the port accepts a connection. The probes retry on the launch's
polling schedule (fast for the first seconds, then backing off, capped) until their deadline.
"""

from __future__ import annotations

import http.client
import socket
import time
from dataclasses import dataclass

from execplanner.cloud import polling
from execplanner.cloud.userdata import Service

CONNECT_TIMEOUT = 2.0


@dataclass(frozen=True)
class Target:
    port: int
    kind: str  # jupyter | web | tcp


def targets(services: list[Service], ssh: bool) -> list[Target]:
    """What must answer: every declared service, else port 22 when a key was given, else nothing."""
    found = [Target(s.port, s.kind) for s in services]
    if not found and ssh:
        found.append(Target(22, "tcp"))
    return found


def answers(address: str, target: Target) -> bool:
    """One attempt: does the target answer as it should?"""
    try:
        if target.kind in ("jupyter", "web"):
            conn = http.client.HTTPConnection(address, target.port, timeout=CONNECT_TIMEOUT)
            try:
                conn.request("GET", "/api" if target.kind == "jupyter" else "/")
                status = conn.getresponse().status
            finally:
                conn.close()
            return status == 200 if target.kind == "jupyter" else status < 500
        with socket.create_connection((address, target.port), timeout=CONNECT_TIMEOUT):
            return True
    except (OSError, http.client.HTTPException):
        return False


def wait_ready(address: str, wanted: list[Target], deadline: float) -> Target | None:
    """None once every target answers; else the first one still silent when the deadline passed."""
    schedule = polling.pauses(fast=0.05)  # a probe goes to the VM, not the site's API: it costs the site nothing
    pending = list(wanted)
    while pending:
        pending = [t for t in pending if not answers(address, t)]
        left = deadline - time.monotonic()
        if not pending:
            return None
        if left <= 0:
            return pending[0]
        time.sleep(min(next(schedule), left))
    return None

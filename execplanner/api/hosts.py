"""Which `Host` headers the service answers for: our links are written from the Host when no base URL is
configured, so a client naming another host (`evil.example`) would otherwise make us link there. Refused with
a 400 error document, like starlette's TrustedHostMiddleware but in the client's format."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from execplanner.api.errors import error_response

# Load-balancer probes name the replica's own address; the answer carries no link.
UNCHECKED_PATHS = frozenset({"/healthz"})


def host_of(header: str) -> str:
    """The host part of a Host header, lower-case; an IPv6 literal keeps its brackets."""
    header = header.strip().lower()
    if header.startswith("["):
        return header.split("]", 1)[0] + "]"
    return header.split(":", 1)[0]


class AllowedHosts:
    """Answers only requests whose Host is in `hosts` ('*' allows any; '*.example.org' a domain's hosts)."""

    def __init__(self, app: ASGIApp, hosts: list[str]) -> None:
        self.app = app
        self.any = "*" in hosts
        self.exact = {h.lower() for h in hosts if not h.startswith("*")}
        self.suffixes = tuple(h[1:].lower() for h in hosts if h.startswith("*."))

    def allows(self, host: str) -> bool:
        return self.any or host in self.exact or (bool(self.suffixes) and host.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNCHECKED_PATHS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        host = host_of(request.headers.get("host", ""))
        if self.allows(host):
            await self.app(scope, receive, send)
            return
        text = f"this service does not answer for host '{host[:100]}'; configure base_url or allowed_hosts"
        await error_response(request, 400, text)(scope, receive, send)

"""Which `Host` headers the service answers for: our links are written from the Host when no base URL is
configured, so a client naming another host (`evil.example`) would otherwise make us link there. Refused with
a 400 error document, like starlette's TrustedHostMiddleware but in the client's format."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from execplanner.api.errors import error_response

# Load-balancer probes name the replica's own address; the answer carries no link.
UNCHECKED_PATHS = frozenset({"/healthz"})


# A host name or IPv4 address, or a bracketed IPv6 literal, and an optional port: nothing else may reach a link
# (`127.0.0.1:1@evil.example` would otherwise write `http://127.0.0.1:1@evil.example/...`).
_HOST_HEADER = re.compile(r"(?P<host>\[[0-9a-f:.]+\]|[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?)(?::\d{1,5})?")


def host_of(header: str) -> str:
    """The host part of a Host header, lower-case (an IPv6 literal keeps its brackets); '' when malformed."""
    match = _HOST_HEADER.fullmatch(header.strip().lower())
    return match.group("host") if match else ""


class AllowedHosts:
    """Answers only requests whose Host is in `hosts` ('*' allows any; '*.example.org' a domain's hosts)."""

    def __init__(self, app: ASGIApp, hosts: list[str]) -> None:
        self.app = app
        self.any = "*" in hosts
        self.exact = {h.lower() for h in hosts if not h.startswith("*")}
        self.suffixes = tuple(h[1:].lower() for h in hosts if h.startswith("*."))
        self._seen: dict[str, bool] = {}

    def allows(self, host: str) -> bool:
        if not host:
            return False  # malformed: never, whatever the list
        return self.any or host in self.exact or (bool(self.suffixes) and host.endswith(self.suffixes))

    def _allowed(self, header: str) -> bool:
        """Whether a Host header may be answered, remembered for the few headers a service sees (every request
        asks again, with the same header)."""
        allowed = self._seen.get(header)
        if allowed is None:
            allowed = self.allows(host_of(header))
            if len(self._seen) < 1024:  # a client making up hosts cannot grow it without bound
                self._seen[header] = allowed
        return allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNCHECKED_PATHS:
            await self.app(scope, receive, send)
            return
        header = next((value.decode("latin-1") for name, value in scope["headers"] if name == b"host"), None)
        # no Host at all (HTTP/1.0): links follow the address the connection reached, which the client cannot choose
        if header is None or self._allowed(header):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        shown = host_of(header) or header[:100]
        text = f"this service does not answer for host '{shown}'; configure base_url or allowed_hosts"
        await error_response(request, 400, text)(scope, receive, send)

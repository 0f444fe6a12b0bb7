"""uvicorn's HTTP/1.1 protocol with the read deadlines it lacks, and the uvicorn settings that bound connections.

uvicorn (h11) times out only idle keep-alive connections: a client that opens a connection and sends nothing,
or trickles its headers or body a byte at a time (slowloris), holds the connection for ever. Here a request's
headers must arrive within `header_timeout_seconds` of its first byte (or of the connection), and its body
within `body_timeout_seconds` of its headers; a connection past either deadline is closed. The application
answers a slow body itself with a 408 (api/documents.py); the deadline here is the backstop for requests whose
handler never reads the body.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol

from execplanner.api.errors import error_document
from execplanner.config import Settings
from execplanner.formats.media import CONTENT_TYPES, Format
from execplanner.formats.tree import render

# The protocol's own body deadline trails the application's, so that a handler reading the body answers 408 first.
_BACKSTOP = 1.0


class GuardedH11Protocol(H11Protocol):
    """H11Protocol that closes a connection whose request headers or body arrive too slowly."""

    header_timeout: float = 10.0
    body_timeout: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for: object = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(h11.IDLE)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._arm(self.conn.their_state)

    def _arm(self, state: object) -> None:
        """One deadline per phase of the client's request: headers (IDLE), then body (SEND_BODY)."""
        if state is self._waiting_for:
            return
        self._disarm()
        if state is h11.IDLE and self.timeout_keep_alive_task is None:
            self._start(state, self.header_timeout)
        elif state is h11.SEND_BODY:
            self._start(state, self.body_timeout + _BACKSTOP)

    def _start(self, state: object, seconds: float) -> None:
        self._waiting_for = state
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._waiting_for = None

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE:
            self._disarm()  # between requests the keep-alive timeout applies; the next first byte re-arms

    def send_400_response(self, msg: str) -> None:
        """A request h11 cannot read (a NUL or other control character in a header, a space in a header name, a
        malformed request line): uvicorn answers it in plain text; ours is the JSON error document every other
        400 is (JSON: the request's Accept header cannot be trusted, if it was read at all)."""
        text = "the request is not valid HTTP/1.1 (malformed request line or header, e.g. a control character in it)"
        body = render(error_document(400, text), Format.JSON, root="error")
        headers = [
            (b"content-type", CONTENT_TYPES[Format.JSON].encode()),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),
        ]
        head = h11.Response(status_code=400, headers=headers, reason=b"Bad Request")
        for event in (head, h11.Data(data=body), h11.EndOfMessage()):
            output = self.conn.send(event)
            if output:
                self.transport.write(output)
        self.transport.close()

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.logger.info("connection_closed reason=slow_request client=%s", self.client)
            self.transport.close()


def protocol_for(settings: Settings) -> type[GuardedH11Protocol]:
    """A protocol class carrying this service's deadlines (uvicorn instantiates it per connection)."""
    return type(
        "ServiceH11Protocol",
        (GuardedH11Protocol,),
        {"header_timeout": settings.header_timeout_seconds, "body_timeout": settings.body_timeout_seconds},
    )


def uvicorn_config(app: Any, settings: Settings) -> Config:
    """uvicorn's settings for the service: bounded connections, deadlines, and proxy headers only from the
    configured proxies."""
    proxies = settings.trusted_proxies
    return Config(
        app,
        host=settings.host,
        port=settings.port,
        http=protocol_for(settings),
        log_level=settings.log_level.lower(),
        lifespan="on",
        server_header=False,
        log_config=None,  # logs.configure() has set up logging: JSON lines, uvicorn's included
        access_log=False,  # api/observe.py writes one line per request, with its request id
        limit_concurrency=settings.max_connections,
        timeout_keep_alive=settings.keepalive_timeout_seconds,
        h11_max_incomplete_event_size=16 * 1024,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=list(proxies) if proxies else None,
    )

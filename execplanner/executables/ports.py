"""Guessing the protocol users speak to a port: a compose file says TCP or UDP, the protocol wants HTTP(S)."""

from __future__ import annotations

from execplanner.model.requirements import Port

HTTPS_PORTS = frozenset({443, 8443})
HTTP_PORTS = frozenset({80, 3000, 5000, 6080, 8000, 8050, 8080, 8081, 8787, 8888, 9000})


def guess_port(port: int, transport: str = "tcp", public: bool = True, path: str | None = None) -> Port:
    if transport.lower() == "udp":
        protocol = "UDP"
    elif port in HTTPS_PORTS:
        protocol = "HTTPS"
    elif port in HTTP_PORTS:
        protocol = "HTTP"
    else:
        protocol = "TCP"
    return Port(
        port=port, protocol=protocol, path=path or ("/" if protocol in ("HTTP", "HTTPS") else None), public=public
    )


def add_port(ports: list[Port], port: Port) -> None:
    """Add unless the same port and protocol is there; a public copy wins over a private one."""
    for index, existing in enumerate(ports):
        if existing.port == port.port and existing.protocol == port.protocol:
            if port.public and not existing.public:
                ports[index] = port
            return
    ports.append(port)

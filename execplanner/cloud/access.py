"""Access details for a running session, written into its executable: each port's external address, the
Jupyter URL with its token, and `ssh ubuntu@IP` when the user gave a key."""

from __future__ import annotations

from execplanner.cloud.userdata import Service
from execplanner.model.documents import AccessMethod, Executable

SSH_USER = "ubuntu"


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def with_access(executable: Executable, address: str, services: list[Service], ssh: bool) -> Executable:
    """The executable with `ports[].addresses` and `access[]` filled for `address`."""
    by_port = {s.port: s for s in services}
    ports = []
    for port in executable.ports:
        scheme = "tcp" if port.protocol.upper() in ("TCP", "UDP") and port.internal not in by_port else "http"
        path = (port.path or "/") if scheme == "http" else ""
        ports.append(port.model_copy(update={"addresses": [f"{scheme}://{_host(address)}:{port.internal}{path}"]}))
    access = []
    for service in services:
        base = f"http://{_host(address)}:{service.port}/"
        if service.kind == "jupyter":
            access.append(
                AccessMethod(protocol="jupyter", status="AVAILABLE", locations=[f"{base}lab?token={service.token}"])
            )
        elif service.kind == "web":
            path = next((p.path for p in executable.ports if p.internal == service.port and p.path), "/")
            access.append(AccessMethod(protocol="http", status="AVAILABLE", locations=[base.rstrip("/") + path]))
    if ssh:
        access.append(AccessMethod(protocol="ssh", status="AVAILABLE", locations=[f"ssh {SSH_USER}@{address}"]))
    return executable.model_copy(update={"ports": ports, "access": access})

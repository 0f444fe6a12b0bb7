"""Launch one session's VM on a site and tear it down again, through openstacksdk's proxies only.

Every object carries the session: the server is named `execplanner-<uuid>` with metadata
`execplanner-session=<uuid>`, the security group and keypair share its name, a floating IP's description says
`execplanner session <uuid>`. So each step first looks for what an earlier, interrupted attempt made (a launch
retried after a crash never creates a second server), and teardown and reconciliation find everything again
from the session alone. Every wait has a deadline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from execplanner.cloud import polling
from execplanner.cloud import volumes as block
from execplanner.cloud._errors import calling
from execplanner.cloud._names import MAX_POLL, META_KEY, POLL, PREFIX, object_name
from execplanner.errors import CloudError

FIP_DESCRIPTION = "execplanner session "
SSH_PORT = 22

Step = Callable[[str], None]


@dataclass(frozen=True)
class LaunchSpec:
    """What to create, all of it from the offer's placement, the catalogue and the generated user data."""

    session: UUID
    flavor_id: str
    image_id: str
    network_id: str | None
    user_data: str
    ports: tuple[int, ...] = ()
    public_key: str | None = None
    public_network_id: str | None = None
    public_access: str | None = None  # floating-ip | direct | None
    volume_ids: tuple[str, ...] = ()  # made beforehand (`volumes.ensure_volumes`), attached once ACTIVE


@dataclass
class Launched:
    """What exists for a session after a launch, and the address users reach it at."""

    server_id: str
    status: str
    address: str | None = None
    floating_ip_id: str | None = None
    security_group_id: str | None = None
    keypair: str | None = None
    fixed_addresses: list[str] = field(default_factory=list)


def _noop(message: str) -> None:
    """Default step reporter."""


def _deadline_left(deadline: float) -> float:
    return deadline - time.monotonic()


# ---------------------------------------------------------------------- finding what exists
def session_servers(conn: Any, session: UUID) -> list[Any]:
    """The session's servers, looked up by name and confirmed by their metadata: one, unless a create the client
    gave up on (a timeout) was carried out by the cloud after all, beside the one a retry made."""
    name = object_name(session)
    with calling(conn, "find_server", "looking for the session's server"):
        return [
            server
            for server in conn.compute.servers(name=name)
            if server.name == name and (server.metadata or {}).get(META_KEY, str(session)) == str(session)
        ]


def find_server(conn: Any, session: UUID) -> Any | None:
    """The session's server (the first, should a late create have made two)."""
    return next(iter(session_servers(conn, session)), None)


def _find_group(conn: Any, name: str) -> Any | None:
    return next(iter(conn.network.security_groups(name=name)), None)


def _find_keypair(conn: Any, name: str) -> Any | None:
    from openstack.exceptions import NotFoundException

    try:
        return conn.compute.get_keypair(name)
    except NotFoundException:
        return None


def _session_fips(conn: Any, session: UUID) -> list[Any]:
    description = FIP_DESCRIPTION + str(session)
    # Neutron filters by description: one floating IP to read, not the project's every one (checked here too, for a
    # site that ignores the filter)
    return [f for f in conn.network.ips(description=description) if f.description == description]


# ---------------------------------------------------------------------- creating
def ensure_keypair(conn: Any, session: UUID, public_key: str) -> str:
    name = object_name(session)
    with calling(conn, "create_keypair", "creating the keypair"):
        if _find_keypair(conn, name) is None:
            conn.compute.create_keypair(name=name, public_key=public_key)
    return name


def ensure_security_group(conn: Any, session: UUID, ports: tuple[int, ...]) -> Any:
    """A group opening `ports` (TCP, from anywhere); rules an interrupted attempt did not add are added now."""
    name = object_name(session)
    with calling(conn, "ensure_security_group", "creating the security group"):
        group = _find_group(conn, name)
        opened: set[int] = set()  # a group made just now has Neutron's default egress rules only
        if group is None:
            group = conn.network.create_security_group(name=name, description=f"execplanner session {session}")
        else:
            opened = {
                r.port_range_min
                for r in conn.network.security_group_rules(security_group_id=group.id)
                if r.direction == "ingress" and r.port_range_min == r.port_range_max
            }
        for port in sorted(set(ports) - opened):
            conn.network.create_security_group_rule(
                security_group_id=group.id,
                direction="ingress",
                ethertype="IPv4",
                protocol="tcp",
                port_range_min=port,
                port_range_max=port,
                remote_ip_prefix="0.0.0.0/0",
            )
    return group


def ensure_server(conn: Any, spec: LaunchSpec, group: str, key_name: str | None) -> Any:
    existing = find_server(conn, spec.session)
    if existing is not None:
        return existing
    import base64

    options: dict[str, Any] = {
        "name": object_name(spec.session),
        "flavor_id": spec.flavor_id,
        "image_id": spec.image_id,
        "security_groups": [{"name": group}],
        "user_data": base64.b64encode(spec.user_data.encode()).decode(),
        "metadata": {META_KEY: str(spec.session)},
    }
    if spec.network_id:
        options["networks"] = [{"uuid": spec.network_id}]
    if key_name:
        options["key_name"] = key_name
    with calling(conn, "create_server", "creating the server"):
        return conn.compute.create_server(**options)


def _look(conn: Any, server_id: str, microversion: str | None) -> dict[str, Any]:
    """The server as one `GET /servers/{id}` answers it (raw JSON): what `compute.get_server` sends and raises,
    without building its `Server` resource, which took 3.6 of its 6.7 ms of CPU per call (cProfile against the
    simulator: `Resource.__init__` three times and `to_dict` twice per fetch). A launch looks 60 times during a
    20 s boot."""
    from openstack import exceptions as os_exc

    response = conn.compute.get(f"/servers/{server_id}", microversion=microversion)
    os_exc.raise_from_response(response)
    body: dict[str, Any] = response.json()["server"]
    return body


def wait_active(conn: Any, server_id: str, deadline: float, cap: float = polling.MAX_PAUSE) -> Any:
    """Poll until ACTIVE (fast at first, then at most `cap` s apart: see `polling`); ERROR is a CloudError with
    Nova's fault message; the deadline is one too. The ACTIVE server is returned as openstacksdk's `Server`."""
    from openstack.compute.v2.server import Server

    microversion = Server._get_microversion(conn.compute)  # the one get_server would send
    schedule = polling.pauses(cap=cap)
    while True:
        with calling(conn, "get_server", "waiting for the server"):
            server = _look(conn, server_id, microversion)
        status = server.get("status")
        if status == "ACTIVE":
            return Server.existing(connection=conn, **server)
        if status == "ERROR":
            fault = (server.get("fault") or {}).get("message") or "no reason given"
            raise CloudError(f"the server went to ERROR: {fault}")
        left = _deadline_left(deadline)
        if left <= 0:
            raise CloudError(f"the server was still {status} when its deadline passed")
        time.sleep(min(next(schedule), left))


def _fixed_addresses(server: Any) -> list[str]:
    return [a["addr"] for entries in (server.addresses or {}).values() for a in entries if a.get("addr")]


def ensure_floating_ip(conn: Any, spec: LaunchSpec, server: Any) -> Any:
    """The session's floating IP from the public network, associated with the server's port."""
    with calling(conn, "attach_floating_ip", "attaching a floating IP"):
        fips = _session_fips(conn, spec.session)
        fip = fips[0] if fips else None
        if fip is None:
            fip = conn.network.create_ip(
                floating_network_id=spec.public_network_id, description=FIP_DESCRIPTION + str(spec.session)
            )
        if not fip.port_id:
            ports = list(conn.network.ports(device_id=server.id))
            port = next((p for p in ports if p.network_id == spec.network_id), ports[0] if ports else None)
            if port is None:
                raise CloudError("the server has no port to attach a floating IP to")
            fip = conn.network.update_ip(fip, port_id=port.id)
    return fip


def launch(
    conn: Any, spec: LaunchSpec, deadline: float, step: Step = _noop, poll_max: float = polling.MAX_PAUSE
) -> Launched:
    """Create (or find) keypair, security group, server and public address; return once the server is ACTIVE
    (looked at no more than `poll_max` s apart while it builds, and its volumes while they attach)."""
    key_name = ensure_keypair(conn, spec.session, spec.public_key) if spec.public_key else None
    ports = spec.ports + ((SSH_PORT,) if spec.public_key else ())
    group = ensure_security_group(conn, spec.session, ports)
    step(f"security group {group.name} opens {', '.join(map(str, sorted(set(ports)))) or 'no port'}")
    server = ensure_server(conn, spec, group.name, key_name)
    step(f"server {server.name} ({server.id}) created; waiting for it to boot")
    server = wait_active(conn, server.id, deadline, poll_max)
    if spec.volume_ids:
        block.attach_volumes(conn, server.id, list(spec.volume_ids), deadline, poll_max)
        step(f"{len(spec.volume_ids)} volume(s) attached")
    launched = Launched(server.id, server.status, security_group_id=group.id, keypair=key_name)
    launched.fixed_addresses = _fixed_addresses(server)
    if spec.public_access == "floating-ip" and spec.public_network_id:
        fip = ensure_floating_ip(conn, spec, server)
        launched.address, launched.floating_ip_id = fip.floating_ip_address, fip.id
        step(f"floating IP {fip.floating_ip_address} attached")
    elif launched.fixed_addresses:
        launched.address = launched.fixed_addresses[0]
    return launched


# ---------------------------------------------------------------------- tearing down
def _wait_gone(conn: Any, server_id: str, deadline: float) -> None:
    """Until the server is gone; a delete that sent it to ERROR instead is reported with Nova's fault at once."""
    from openstack.exceptions import NotFoundException

    interval = POLL
    while _deadline_left(deadline) > 0:
        try:
            server = conn.compute.get_server(server_id)
        except NotFoundException:
            return
        if server.status == "ERROR":
            fault = (server.fault or {}).get("message") or "no reason given"
            raise CloudError(f"server {server_id} went to ERROR instead of going away: {fault}")
        time.sleep(min(interval, max(_deadline_left(deadline), 0)))
        interval = min(interval * 1.5, MAX_POLL)
    raise CloudError(f"server {server_id} was still there when the teardown deadline passed")


def _delete_servers(conn: Any, session: UUID, deadline: float) -> list[str]:
    """Every server of the session (a late create can have made two)."""
    deleted = []
    for server in session_servers(conn, session):
        with calling(conn, "delete_server", "deleting the server"):
            conn.compute.delete_server(server.id)
            _wait_gone(conn, server.id, deadline)
        deleted.append(f"server {server.id}")
    return deleted


def _release_ips(conn: Any, session: UUID) -> list[str]:
    deleted = []
    with calling(conn, "delete_floating_ip", "releasing the floating IP"):
        for fip in _session_fips(conn, session):
            conn.network.delete_ip(fip.id)
            deleted.append(f"floating IP {fip.floating_ip_address}")
    return deleted


def _delete_groups(conn: Any, name: str) -> list[str]:
    """Every group of that name (a late create can have made two)."""
    deleted = []
    with calling(conn, "delete_security_group", "deleting the security group"):
        for group in list(conn.network.security_groups(name=name)):
            if group.name == name:
                conn.network.delete_security_group(group.id)
                deleted.append(f"security group {name}")
    return deleted


def _delete_keypair(conn: Any, name: str) -> list[str]:
    with calling(conn, "delete_keypair", "deleting the keypair"):
        if _find_keypair(conn, name) is None:
            return []
        conn.compute.delete_keypair(name)
    return [f"keypair {name}"]


def teardown(conn: Any, session: UUID, deadline: float, step: Step = _noop) -> list[str]:
    """Delete everything the session owns at this site; safe to repeat. Returns what it deleted."""
    name = object_name(session)
    deleted = _delete_servers(conn, session, deadline) + _release_ips(conn, session)
    if _has_block_storage(conn):
        deleted += block.delete_volumes(conn, session, deadline)
    deleted += _delete_groups(conn, name) + _delete_keypair(conn, name)
    if deleted:
        step("deleted " + ", ".join(deleted))
    return deleted


def _has_block_storage(conn: Any) -> bool:
    """Whether the site runs Cinder (some do not); asking never fails the caller."""
    try:
        return bool(conn.has_service("block-storage"))
    except Exception:  # noqa: BLE001 — a site without a catalogue entry answers in many ways
        return False


def _session_of(name: str | None) -> UUID | None:
    if not name or not name.startswith(PREFIX):
        return None
    try:
        return UUID(name[len(PREFIX) :])
    except ValueError:
        return None


def sessions_present(conn: Any) -> set[UUID]:
    """Every session that has some object at this site (server, floating IP, security group or keypair)."""
    found: set[UUID] = set()
    with calling(conn, "list_objects", "listing the site's execplanner objects"):
        found |= {s for server in conn.compute.servers() if (s := _session_of(server.name))}
        found |= {s for g in conn.network.security_groups() if (s := _session_of(g.name))}
        found |= {s for k in conn.compute.keypairs() if (s := _session_of(k.name))}
        if _has_block_storage(conn):
            found |= {s for v in conn.block_storage.volumes() if (s := block.session_of_volume(v.name))}
        for fip in conn.network.ips():
            description = fip.description or ""
            if description.startswith(FIP_DESCRIPTION):
                found |= {s for s in [_session_of(PREFIX + description[len(FIP_DESCRIPTION) :])] if s}
    return found

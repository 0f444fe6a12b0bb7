"""The objects a simulated site holds, as plain dataclasses that round-trip through JSON (for `--state FILE`)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from execplanner.simcloud.spec import FlavorSpec, ImageSpec

_NAMESPACE = uuid.UUID("5f0c8a52-7d0e-4c7e-9a39-6a1f2b7d8e11")


def stable_id(*parts: str, dashed: bool = True) -> str:
    """A deterministic id, so static objects keep their ids across restarts and state reloads."""
    value = uuid.uuid5(_NAMESPACE, "/".join(parts))
    return str(value) if dashed else value.hex


def new_id(dashed: bool = True) -> str:
    value = uuid.uuid4()
    return str(value) if dashed else value.hex


@dataclass
class Project:
    id: str
    name: str
    vo: str


@dataclass
class Flavor:
    id: str
    spec: FlavorSpec


@dataclass
class Image:
    id: str
    owner: str
    spec: ImageSpec
    member_projects: list[str] = field(default_factory=list)


@dataclass
class Subnet:
    id: str
    name: str
    network_id: str
    project_id: str
    cidr: str
    gateway: str | None
    pools: list[tuple[str, str]]


@dataclass
class Network:
    id: str
    name: str
    project_id: str
    external: bool
    shared: bool
    provider: dict[str, object]
    subnet_ids: list[str]


@dataclass
class Router:
    id: str
    name: str
    project_id: str
    external_network_id: str | None
    subnet_ids: list[str]


@dataclass
class Token:
    id: str
    user_id: str
    user_name: str
    project_id: str | None
    methods: list[str]
    issued_at: float
    expires_at: float
    federated: bool = False
    app_cred_id: str | None = None

    def valid(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) < self.expires_at


@dataclass
class KeystoneUser:
    """A user as one site's Keystone knows it; federated users' projects come from their entitlements."""

    id: str
    name: str
    project_ids: list[str]
    federated: bool


@dataclass
class AppCredential:
    id: str
    name: str
    user_id: str
    project_id: str
    secret_sha256: str
    description: str | None
    expires_at: float | None
    unrestricted: bool
    created: float


@dataclass
class Keypair:
    name: str
    user_id: str
    public_key: str
    fingerprint: str
    type: str
    created: float


@dataclass
class SecurityGroupRule:
    id: str
    security_group_id: str
    project_id: str
    direction: str
    ethertype: str = "IPv4"
    protocol: str | None = None
    port_range_min: int | None = None
    port_range_max: int | None = None
    remote_ip_prefix: str | None = None
    remote_group_id: str | None = None
    description: str = ""


@dataclass
class SecurityGroup:
    id: str
    name: str
    description: str
    project_id: str
    rules: list[SecurityGroupRule] = field(default_factory=list)


@dataclass
class Port:
    id: str
    network_id: str
    project_id: str
    device_id: str
    device_owner: str
    mac_address: str
    fixed_ips: list[tuple[str, str]]  # (subnet_id, ip_address)
    security_group_ids: list[str] = field(default_factory=list)
    name: str = ""


@dataclass
class FloatingIP:
    id: str
    address: str
    network_id: str
    subnet_id: str
    project_id: str
    created: float
    port_id: str | None = None
    fixed_ip: str | None = None
    router_id: str | None = None
    description: str = ""


@dataclass
class Server:
    id: str
    name: str
    project_id: str
    user_id: str
    flavor_id: str
    image_id: str
    key_name: str | None
    user_data: str | None
    metadata: dict[str, str]
    tags: list[str]
    port_ids: list[str]
    security_groups: list[str]
    created: float
    boot_delay: float
    fault_mode: str = ""  # "" | "stuck" | "error"
    fault_message: str = ""

    def status(self, now: float | None = None) -> str:
        """BUILD until the boot delay has passed, then ACTIVE (or ERROR if a fault says so); no timers."""
        booted = (now if now is not None else time.time()) >= self.created + self.boot_delay
        if self.fault_mode == "stuck" or not booted:
            return "BUILD"
        return "ERROR" if self.fault_mode == "error" else "ACTIVE"


@dataclass
class Volume:
    """A Cinder volume; attached to at most one server (no multi-attach), as most EGI sites configure it."""

    id: str
    name: str
    project_id: str
    user_id: str
    size: int  # GiB
    created: float
    create_delay: float
    description: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    image_id: str | None = None
    server_id: str | None = None
    device: str | None = None
    attachment_id: str | None = None
    attached_at: float | None = None
    fault_mode: str = ""  # "" | "error" (goes to `error` once created)

    def status(self, now: float | None = None) -> str:
        """`creating` until the create delay has passed, then `available` or `in-use` (or `error` when a fault
        says so); no timers."""
        if (now if now is not None else time.time()) < self.created + self.create_delay:
            return "creating"
        if self.fault_mode == "error":
            return "error"
        return "in-use" if self.server_id else "available"

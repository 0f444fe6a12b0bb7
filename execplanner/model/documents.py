"""The ExecutionBroker data model as typed classes, independent of any wire format or dialect.

A request arrives in one of three dialects (2022 note, 2025 `type`, 2026 `kind`+`meta`); the codecs in
`formats/` turn each into these classes, and these classes back into the dialect the client spoke.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from execplanner.model.message import Message
from execplanner.model.phase import Phase

# ExecutableKind is part of a request document: re-exported for the codecs and the planner
from execplanner.model.requirements import ExecutableKind as ExecutableKind
from execplanner.model.requirements import Requirements


class Dialect(StrEnum):
    NOTE_2022 = "2022"
    BROKER_2025 = "2025"
    CALYCOPIS_2026 = "2026"


# Kinds a protocol executable may name: our parsers understand more (cwl-tool, codemeta), but those describe
# what a workflow needs rather than something the broker runs.
PROTOCOL_KINDS = frozenset(
    {
        ExecutableKind.JUPYTER_NOTEBOOK,
        ExecutableKind.DOCKER_CONTAINER,
        ExecutableKind.SINGULARITY_CONTAINER,
        ExecutableKind.DOCKER_COMPOSE,
        ExecutableKind.BINDER_REPOSITORY,
        ExecutableKind.SNAKEMAKE_WORKFLOW,
    }
)


SSH_PUBLIC_KEY = r"^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9@.-]+) [A-Za-z0-9+/=]+( [^\r\n]*)?$"
MAX_QUANTITY = 2**31 - 1  # cores, GiB: anything larger is a mistake, refused with a clear 400


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MinMax(_Model):
    """A requested or offered range; either end may be absent."""

    min: int | None = Field(None, ge=0, le=MAX_QUANTITY)
    max: int | None = Field(None, ge=0, le=MAX_QUANTITY)


class Port(_Model):
    internal: int = Field(..., ge=1, le=65535)
    external: int | None = Field(None, ge=1, le=65535)
    protocol: str = "TCP"
    path: str | None = None
    access: bool = True
    addresses: list[str] = Field(default_factory=list)


class Image(_Model):
    locations: list[str] = Field(default_factory=list)
    digest: str | None = None
    architecture: str | None = None
    os: str | None = None


class AccessMethod(_Model):
    """How the client reaches a running executable (filled once the VM has an address)."""

    protocol: str
    status: str = "PREPARING"
    locations: list[str] = Field(default_factory=list)


class Executable(_Model):
    """Any executable: the fields that do not apply to a kind stay empty.

    `kind_uri` keeps the client's own type URI so an answer can echo it unchanged.
    """

    kind: ExecutableKind
    kind_uri: str | None = None
    name: str | None = None
    uuid: UUID | None = None
    created: datetime | None = None
    location: str | None = None
    image: Image | None = None
    entrypoint: str | None = None
    command: list[str] = Field(default_factory=list)
    privileged: bool = False
    environment: dict[str, str] = Field(default_factory=dict)
    ports: list[Port] = Field(default_factory=list)
    # binder / snakemake / compose specifics
    repository: str | None = None
    ref: str | None = None
    path: str | None = None
    snakefile: str | None = None
    configfile: str | None = None
    compose: str | None = None
    access: list[AccessMethod] = Field(default_factory=list)


class VolumeMount(_Model):
    name: str | None = None
    path: str
    mode: str = "READONLY"
    cardinality: str | None = None
    resources: list[str] = Field(default_factory=list)


class ComputeResource(_Model):
    name: str | None = None
    uuid: UUID | None = None
    cores: MinMax = Field(default_factory=MinMax)
    memory: MinMax = Field(default_factory=MinMax, description="GiB")
    gpus: MinMax = Field(default_factory=MinMax, description="execplanner extension: GPUs on the VM")
    volumes: list[VolumeMount] = Field(default_factory=list)
    cores_offered: MinMax | None = None
    memory_offered: MinMax | None = None
    gpus_offered: MinMax | None = None


class StorageResource(_Model):
    name: str | None = None
    uuid: UUID | None = None
    size: MinMax = Field(default_factory=MinMax, description="GiB")
    size_offered: MinMax | None = None


class DataResource(_Model):
    name: str | None = None
    uuid: UUID | None = None
    location: str | None = None
    size_bytes: int | None = Field(None, ge=0, le=2**63 - 1)


class Interval(_Model):
    """An ISO 8601 interval: a start and a duration (an end is converted to a duration on input)."""

    start: datetime
    duration: timedelta


class ScheduleRequest(_Model):
    duration_min: timedelta | None = None
    duration_max: timedelta | None = None
    start: list[Interval] = Field(default_factory=list)


class ScheduleBlock(_Model):
    start: datetime
    duration: timedelta


class ScheduleOffer(_Model):
    preparing: ScheduleBlock
    available: ScheduleBlock
    releasing: ScheduleBlock


class Execution(_Model):
    """What runs and with what: shared by a request and each offer made for it."""

    name: str | None = None
    dialect: Dialect = Dialect.BROKER_2025
    executable: Executable
    compute: list[ComputeResource] = Field(default_factory=list)
    storage: list[StorageResource] = Field(default_factory=list)
    data: list[DataResource] = Field(default_factory=list)
    volumes: list[VolumeMount] = Field(default_factory=list)
    ssh_public_key: str | None = Field(
        None,
        max_length=16384,
        pattern=SSH_PUBLIC_KEY,
        description="execplanner extension: an OpenSSH public key; the VM then opens port 22 to its holder.",
    )


class OfferSetRequest(Execution):
    """What a client asks: run this, with these resources, at one of these times."""

    schedule: ScheduleRequest = Field(default_factory=ScheduleRequest)
    vo: str | None = None
    messages: list[Message] = Field(default_factory=list)
    described: Requirements | None = Field(
        None, description="What an uploaded description (notebook, compose file...) was understood to need."
    )


class Placement(_Model):
    """Where an offer runs: what the planner chose and the lifecycle needs to launch it."""

    site: str
    vo: str
    project_id: str | None = None
    flavor_id: str
    flavor_name: str
    image_id: str | None = None
    image_name: str | None = None
    network_id: str | None = None
    network_name: str | None = None
    public_access: str | None = Field(None, description="floating-ip | direct | None")
    cores: int
    memory_mib: int
    disk_gib: int = 0
    gpus: int = 0
    floating_ips: int = 0
    volumes: int = Field(0, description="Block-storage volumes held for the request's storage resources.")
    volume_gib: int = Field(0, description="Their total size, GiB.")


class LaunchMode(StrEnum):
    PER_USER = "per-user"  # the owner's own application credential, made with their token at accept time
    ROBOT = "robot"  # the operator's credential for the VO (a refreshed Check-in token or an application credential)


class LaunchIdentity(_Model):
    """execplanner extension: which identity launched the session, and with what kind of credential — never a
    secret. Shown to whoever may read the session (its owner, when it has one)."""

    mode: LaunchMode
    identity: str = Field(description="The owner's Check-in subject (subject@issuer), or the robot account's name.")
    site: str
    project: str | None = None
    credential: str = Field(description="application-credential | oidc-access-token")
    credential_id: str | None = Field(None, description="The application credential's id (not its secret).")
    expires: datetime | None = Field(None, description="When a per-user application credential expires.")


class Session(Execution):
    """One offer, and once accepted, one execution session."""

    uuid: UUID
    offerset: UUID | None = None
    created: datetime
    phase: Phase
    expires: datetime | None = None
    requested: ScheduleRequest = Field(default_factory=ScheduleRequest)
    schedule: ScheduleOffer | None = None
    placement: Placement | None = None
    launch: LaunchIdentity | None = None
    messages: list[Message] = Field(default_factory=list)


class Result(StrEnum):
    YES = "YES"
    NO = "NO"


class OfferSet(_Model):
    uuid: UUID
    name: str | None = None
    created: datetime
    dialect: Dialect = Dialect.BROKER_2025
    result: Result
    expires: datetime | None = None
    offers: list[Session] = Field(default_factory=list)
    messages: list[Message] = Field(default_factory=list)


class UpdateRequest(_Model):
    """A client's change to a session; today only `phase` is updatable."""

    kind: str = "uri:enum-value-update"
    path: str
    value: Any


class Transition(_Model):
    """One row of a session's phase history."""

    at: datetime
    from_phase: Phase | None
    to_phase: Phase
    reason: str

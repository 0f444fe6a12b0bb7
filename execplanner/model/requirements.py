"""What an executable needs, normalised from whatever described it (notebook, image, compose, workflow...).

Every number says where it came from (declared by the author, derived from the content, or a default) and how
sure we are, because real-world projects rarely state cores or memory: the planner needs to know what is a guess.
"""

from __future__ import annotations

import math
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, computed_field

from execplanner.model.message import Message

MIB_PER_GIB = 1024


class _Record(BaseModel):
    """Base of these models: every field is always serialised, so the JSON Schema marks them all required."""

    model_config = ConfigDict(json_schema_serialization_defaults_required=True)


class ExecutableKind(StrEnum):
    """Kinds of executable we understand; the values are stable strings used in docs and schemas."""

    JUPYTER_NOTEBOOK = "jupyter-notebook"
    DOCKER_CONTAINER = "docker-container"
    SINGULARITY_CONTAINER = "singularity-container"
    DOCKER_COMPOSE = "docker-compose"
    BINDER_REPOSITORY = "binder-repository"
    SNAKEMAKE_WORKFLOW = "snakemake-workflow"
    CWL_TOOL = "cwl-tool"
    CODEMETA = "codemeta"


class Source(StrEnum):
    """Where a number came from. The merge rule ranks them: declared beats derived beats default."""

    DECLARED = "declared"
    DERIVED = "derived"
    DEFAULT = "default"


SOURCE_RANK: dict[Source, int] = {Source.DECLARED: 3, Source.DERIVED: 2, Source.DEFAULT: 1}


class Estimate(_Record):
    """A number with its provenance and a confidence between 0 (a guess) and 1 (stated by the author)."""

    value: int = Field(ge=0)
    source: Source
    confidence: float = Field(ge=0.0, le=1.0)
    note: str | None = None

    @classmethod
    def declared(cls, value: int, note: str | None = None, confidence: float = 0.95) -> Estimate:
        return cls(value=value, source=Source.DECLARED, confidence=confidence, note=note)

    @classmethod
    def derived(cls, value: int, note: str | None = None, confidence: float = 0.6) -> Estimate:
        return cls(value=value, source=Source.DERIVED, confidence=confidence, note=note)

    @classmethod
    def default(cls, value: int, note: str | None = None, confidence: float = 0.3) -> Estimate:
        return cls(value=value, source=Source.DEFAULT, confidence=confidence, note=note)

    def outranks(self, other: Estimate) -> bool:
        """True if this estimate should replace `other`: a better source, or the same source and a larger value
        (for minimum requirements the larger figure is the safe one)."""
        mine, theirs = SOURCE_RANK[self.source], SOURCE_RANK[other.source]
        return mine > theirs or (mine == theirs and self.value > other.value)


def mib_to_gib(mib: int) -> int:
    """GiB the protocol uses, rounded up so that we never offer less than needed."""
    return math.ceil(mib / MIB_PER_GIB)


class ContainerImage(_Record):
    """One container image, possibly available from several registries (mirrors) under the same digest."""

    reference: str = Field(description='Normalised "registry/namespace/name:tag".')
    registry: str
    namespace: str | None
    name: str
    tag: str
    digest: str | None = None
    locations: list[str] = Field(default_factory=list, description="Every normalised reference it can be pulled from.")
    platform_os: str | None = None
    platform_arch: str | None = None


class Runtime(_Record):
    """What the code runs on: container images, or a language with its packages."""

    images: list[ContainerImage] = Field(default_factory=list)
    language: str | None = None
    language_version: str | None = None
    kernel: str | None = Field(None, description="Jupyter kernel name, if any.")
    packages: list[str] = Field(default_factory=list, description="Distribution names (PyPI, conda, CRAN...).")
    conda_environments: list[str] = Field(default_factory=list, description="Paths of conda environment files.")
    apt_packages: list[str] = Field(default_factory=list)
    build: str | None = Field(
        None, description="How the environment is built: dockerfile, conda, pip, julia, r, image, snakemake..."
    )
    post_build: bool = Field(False, description="A postBuild script runs after the environment is built.")
    operating_system: str | None = None
    environment_variables: list[str] = Field(
        default_factory=list, description="Names only: values may be secrets and are never recorded."
    )
    needs_docker: bool = False


class Gpu(_Record):
    count: Estimate
    vendor: str | None = None
    model: str | None = None


class Compute(_Record):
    cores_min: Estimate
    cores_max: Estimate | None = None
    memory_min_mib: Estimate
    memory_max_mib: Estimate | None = None
    gpu: Gpu | None = None
    arch: str = "x86_64"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def memory_min_gib(self) -> int:
        return mib_to_gib(self.memory_min_mib.value)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def memory_max_gib(self) -> int | None:
        return None if self.memory_max_mib is None else mib_to_gib(self.memory_max_mib.value)


class Port(_Record):
    port: int = Field(ge=1, le=65535)
    protocol: str = Field("TCP", pattern="^(TCP|HTTP|HTTPS|UDP)$")
    path: str | None = None
    public: bool = Field(True, description="Whether users reach it from outside the VM.")


class Network(_Record):
    ports: list[Port] = Field(default_factory=list)
    outbound: bool = Field(True, description="Needs to reach the internet (pull images, install packages, data).")


class DataInput(_Record):
    url: str
    size_bytes: int | None = None


class VolumeMount(_Record):
    target: str
    source: str | None = None
    read_only: bool = False


class Identifiers(_Record):
    doi: str | None = None
    code_repository: str | None = None


class Requirements(_Record):
    """The one normalised record every executable description becomes."""

    kind: ExecutableKind
    name: str | None = None
    runtime: Runtime = Field(default_factory=Runtime)
    compute: Compute
    disk_min_mib: Estimate
    data: list[DataInput] = Field(default_factory=list)
    volumes: list[VolumeMount] = Field(default_factory=list)
    network: Network = Field(default_factory=Network)
    interactive: bool
    duration_seconds: Estimate
    source_files: list[str] = Field(default_factory=list)
    identifiers: Identifiers = Field(default_factory=Identifiers)
    messages: list[Message] = Field(default_factory=list)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def disk_min_gib(self) -> int:
        return mib_to_gib(self.disk_min_mib.value)

    def warn(self, template: str, **values: object) -> None:
        """Record a degraded parse in words the user will see."""
        self.messages.append(Message.warn(template, **values))

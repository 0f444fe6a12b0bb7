"""What a request needs, in the planner's terms: the client's explicit resources laid over what the
executable itself is understood to need (`executables/`), declared figures winning."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from execplanner.executables import describe_bytes
from execplanner.executables.defaults import default_requirements
from execplanner.executables.images import image_from_locations
from execplanner.model.documents import ExecutableKind, Interval, OfferSetRequest
from execplanner.model.requirements import Estimate, Port, Requirements

CONTAINER_KINDS = frozenset(
    {
        ExecutableKind.DOCKER_CONTAINER,
        ExecutableKind.DOCKER_COMPOSE,
        ExecutableKind.BINDER_REPOSITORY,
        ExecutableKind.SNAKEMAKE_WORKFLOW,
    }
)


@dataclass(frozen=True)
class Needs:
    kind: ExecutableKind
    cores_min: int
    cores_max: int | None
    memory_min_mib: int
    memory_max_mib: int | None
    disk_min_gib: int
    gpus: int
    gpu_vendor: str | None
    gpu_model: str | None
    needs_docker: bool
    needs_singularity: bool
    public_ports: tuple[int, ...]
    duration: timedelta
    duration_max: timedelta | None
    windows: tuple[Interval, ...]

    @property
    def shape(self) -> tuple[object, ...]:
        """Everything that decides which flavor, image and network fit (not when, not for how long)."""
        return (
            self.kind,
            self.cores_min,
            self.cores_max,
            self.memory_min_mib,
            self.memory_max_mib,
            self.disk_min_gib,
            self.gpus,
            self.gpu_vendor,
            self.gpu_model,
            self.needs_docker,
            self.needs_singularity,
            self.public_ports,
        )


def describe_inline(request: OfferSetRequest) -> OfferSetRequest:
    """Read what the request carries inline (a compose file's text) through the same parsers `describe` uses."""
    executable = request.executable
    if executable.kind is ExecutableKind.DOCKER_COMPOSE and executable.compose and request.described is None:
        described = describe_bytes(executable.compose.encode(), "compose.yaml", kind="docker-compose")
        return request.model_copy(update={"described": described})
    return request


def requirements_for(request: OfferSetRequest) -> Requirements:
    """Map a protocol executable (plus the request's resources) to the normalised `Requirements`."""
    executable = request.executable
    if request.described is not None:
        requirements = request.described.model_copy(deep=True)
    else:
        requirements = default_requirements(executable.kind, executable.name)
    if executable.image and executable.image.locations:
        image = image_from_locations(executable.image.locations, executable.image.digest)
        requirements.runtime.images = [image]
    requirements.runtime.needs_docker = requirements.runtime.needs_docker or executable.kind in CONTAINER_KINDS
    if executable.ports:
        requirements.network.ports = [
            Port(
                port=p.internal,
                protocol=p.protocol if p.protocol in ("TCP", "HTTP", "HTTPS", "UDP") else "TCP",
                path=p.path,
                public=p.access,
            )
            for p in executable.ports
        ]
    _apply_request_resources(request, requirements)
    return requirements


def _apply_request_resources(request: OfferSetRequest, requirements: Requirements) -> None:
    compute = requirements.compute
    if request.compute:
        asked = request.compute[0]
        if asked.cores.min is not None:
            compute.cores_min = Estimate.declared(asked.cores.min, "requested")
        if asked.cores.max is not None:
            compute.cores_max = Estimate.declared(asked.cores.max, "requested")
        if asked.memory.min is not None:
            compute.memory_min_mib = Estimate.declared(asked.memory.min * 1024, "requested")
        if asked.memory.max is not None:
            compute.memory_max_mib = Estimate.declared(asked.memory.max * 1024, "requested")
    disk = sum(s.size.min or 0 for s in request.storage)
    if disk:
        requirements.disk_min_mib = Estimate.declared(disk * 1024, "requested storage")
    if request.schedule.duration_min:
        requirements.duration_seconds = Estimate.declared(int(request.schedule.duration_min.total_seconds()))


def needs_of(request: OfferSetRequest, requirements: Requirements) -> Needs:
    compute = requirements.compute
    gpu = compute.gpu
    cores_min = max(compute.cores_min.value, 1)
    memory_min = max(compute.memory_min_mib.value, 1)
    return Needs(
        kind=request.executable.kind,
        cores_min=cores_min,
        cores_max=compute.cores_max.value if compute.cores_max else None,
        memory_min_mib=memory_min,
        memory_max_mib=compute.memory_max_mib.value if compute.memory_max_mib else None,
        disk_min_gib=requirements.disk_min_gib,
        gpus=gpu.count.value if gpu else 0,
        gpu_vendor=gpu.vendor if gpu else None,
        gpu_model=gpu.model if gpu else None,
        needs_docker=requirements.runtime.needs_docker,
        needs_singularity=request.executable.kind is ExecutableKind.SINGULARITY_CONTAINER,
        public_ports=tuple(sorted({p.port for p in requirements.network.ports if p.public})),
        duration=timedelta(seconds=max(requirements.duration_seconds.value, 60)),
        duration_max=request.schedule.duration_max,
        windows=tuple(request.schedule.start),
    )

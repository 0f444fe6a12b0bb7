"""What a request needs, in the planner's terms, from the `Requirements` that `executables/` derived for it
(`booking` resolves them into `request.described` before the planner sees the request)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from execplanner.model.documents import ExecutableKind, Interval, OfferSetRequest
from execplanner.model.requirements import Requirements, Source

__all__ = ["Needs", "needs_of"]


@dataclass(frozen=True)
class Needs:
    kind: ExecutableKind
    cores_min: int
    cores_max: int | None
    memory_min_mib: int
    memory_max_mib: int | None
    gpus: int
    gpu_vendor: str | None
    gpu_model: str | None
    needs_docker: bool
    needs_singularity: bool
    public_ports: tuple[int, ...]
    duration: timedelta
    duration_max: timedelta | None
    windows: tuple[Interval, ...]
    volumes: int = 0  # block-storage volumes (one per storage resource)
    volume_gib: int = 0
    prebuilt: bool = False  # a Binder repository whose image is given: pulled, not built on the VM

    @property
    def shape(self) -> tuple[object, ...]:
        """Everything that decides which flavor, image and network fit (not when, not for how long)."""
        return (
            self.kind,
            self.cores_min,
            self.cores_max,
            self.memory_min_mib,
            self.memory_max_mib,
            self.gpus,
            self.gpu_vendor,
            self.gpu_model,
            self.needs_docker,
            self.needs_singularity,
            self.public_ports,
        )


def requirements_of(request: OfferSetRequest) -> Requirements:
    """The request's resolved requirements; a request nobody resolved is a programming error."""
    if request.described is None:
        raise ValueError("the request's requirements were not resolved (booking.resolved does it)")
    return request.described


def needs_of(request: OfferSetRequest) -> Needs:
    requirements = requirements_of(request)
    compute = requirements.compute
    gpu = compute.gpu
    sizes = volume_sizes(request) or described_volume(requirements)
    cores_min = max(compute.cores_min.value, 1)
    memory_min = max(compute.memory_min_mib.value, 1)
    return Needs(
        kind=request.executable.kind,
        cores_min=cores_min,
        cores_max=compute.cores_max.value if compute.cores_max else None,
        memory_min_mib=memory_min,
        memory_max_mib=compute.memory_max_mib.value if compute.memory_max_mib else None,
        gpus=gpu.count.value if gpu else 0,
        gpu_vendor=gpu.vendor if gpu else None,
        gpu_model=gpu.model if gpu else None,
        needs_docker=requirements.runtime.needs_docker,
        needs_singularity=request.executable.kind is ExecutableKind.SINGULARITY_CONTAINER,
        public_ports=tuple(sorted({p.port for p in requirements.network.ports if p.public})),
        duration=timedelta(seconds=max(requirements.duration_seconds.value, 60)),
        duration_max=request.schedule.duration_max,
        windows=tuple(request.schedule.start),
        volumes=len(sizes),  # storage is block storage: the flavor's disk is only for the image
        volume_gib=sum(sizes),
        prebuilt=request.executable.kind is ExecutableKind.BINDER_REPOSITORY and _names_image(request),
    )


def _names_image(request: OfferSetRequest) -> bool:
    image = request.executable.image
    return image is not None and bool(image.locations)


def described_volume(requirements: Requirements) -> list[int]:
    """Working space a description declared or implied (not a default), as one volume when none was asked."""
    if requirements.disk_min_mib.source is Source.DEFAULT or not requirements.disk_min_gib:
        return []
    return [requirements.disk_min_gib]


def volume_sizes(request: OfferSetRequest) -> list[int]:
    """One block-storage volume per storage resource, of the size asked (its minimum, else its maximum)."""
    sizes = [s.size.min if s.size.min is not None else s.size.max for s in request.storage]
    return [size for size in sizes if size]

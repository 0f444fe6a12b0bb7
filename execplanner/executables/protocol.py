"""The protocol's executables ↔ `Requirements`, both ways.

Inward: a protocol executable and the request's explicit resources become the `Requirements` the planner
works from (declared figures laid over what the executable is understood to need). Outward: what
`describe` understood of a notebook, image or repository becomes an offer-set request a user can send.
"""

from __future__ import annotations

from datetime import timedelta

from execplanner.executables.defaults import default_requirements
from execplanner.executables.describe import describe_bytes
from execplanner.executables.images import image_from_locations
from execplanner.model.documents import (
    ComputeResource,
    Dialect,
    Executable,
    ExecutableKind,
    Image,
    MinMax,
    OfferSetRequest,
    ScheduleRequest,
    StorageResource,
)
from execplanner.model.documents import Port as ProtocolPort
from execplanner.model.requirements import Estimate, Gpu, Port, Requirements, Source, mib_to_gib

CONTAINER_KINDS = frozenset(
    {
        ExecutableKind.DOCKER_CONTAINER,
        ExecutableKind.DOCKER_COMPOSE,
        ExecutableKind.BINDER_REPOSITORY,
        ExecutableKind.SNAKEMAKE_WORKFLOW,
    }
)


def describe_inline(request: OfferSetRequest) -> OfferSetRequest:
    """Read what the request carries inline (a compose file's text) through the same parsers `describe` uses."""
    executable = request.executable
    if executable.kind is ExecutableKind.DOCKER_COMPOSE and executable.compose and request.described is None:
        described = describe_bytes(executable.compose.encode(), "compose.yaml", kind="docker-compose")
        return request.model_copy(update={"described": described})
    return request


# Requirements worked out from what a request's executable and resources say (no uploaded description): clients
# ask again and again for the same thing, and working it out (image references parsed, estimates laid over the
# defaults) was a tenth of planning an offer set. Shared, so never changed once made (`resolved` only reads it).
_WORKED_OUT: dict[tuple[object, ...], Requirements] = {}
_REMEMBERED = 1024


def _asked(request: OfferSetRequest) -> tuple[object, ...]:
    """Everything of the request `requirements_for` reads when there is no description."""
    executable, image = request.executable, request.executable.image
    first = request.compute[0] if request.compute else None
    return (
        executable.kind,
        executable.name,
        (tuple(image.locations), image.digest) if image else None,
        tuple((p.internal, p.protocol, p.path, p.access) for p in executable.ports),
        (first.cores.min, first.cores.max, first.memory.min, first.memory.max, first.gpus.min) if first else None,
        request.schedule.duration_min,
    )


def requirements_for(request: OfferSetRequest) -> Requirements:
    """Map a protocol executable (plus the request's resources) to the normalised `Requirements`. The same object
    for requests that ask the same: treat it as read-only."""
    if request.described is not None:
        return _requirements_for(request)
    key = _asked(request)
    found = _WORKED_OUT.get(key)
    if found is None:
        found = _requirements_for(request)  # an invalid image raises here, every time: nothing is remembered
        if len(_WORKED_OUT) >= _REMEMBERED:
            _WORKED_OUT.clear()
        _WORKED_OUT[key] = found
    return found


def _requirements_for(request: OfferSetRequest) -> Requirements:
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
        if asked.gpus.min:
            known = compute.gpu
            compute.gpu = Gpu(
                count=Estimate.declared(asked.gpus.min, "requested"),
                vendor=known.vendor if known else None,
                model=known.model if known else None,
            )
    if request.schedule.duration_min:
        requirements.duration_seconds = Estimate.declared(int(request.schedule.duration_min.total_seconds()))


def _protocol_kind(requirements: Requirements, location: str | None) -> ExecutableKind:
    """Which protocol executable runs what was described: CWL tools and codemeta-described code run as their
    container when they name one, else from their repository through Binder."""
    kind = requirements.kind
    if kind in (ExecutableKind.CWL_TOOL, ExecutableKind.CODEMETA):
        return ExecutableKind.DOCKER_CONTAINER if requirements.runtime.images else ExecutableKind.BINDER_REPOSITORY
    if kind is ExecutableKind.DOCKER_COMPOSE and len(requirements.runtime.images) == 1 and not location:
        return ExecutableKind.DOCKER_CONTAINER
    return kind


def request_for(
    requirements: Requirements,
    *,
    location: str | None = None,
    dialect: Dialect = Dialect.CALYCOPIS_2026,
) -> OfferSetRequest:
    """An offer-set request for what `describe` found; `location` is where the service can fetch the notebook,
    compose file or repository from (defaults to the repository the description names)."""
    kind = _protocol_kind(requirements, location)
    repository = requirements.identifiers.code_repository
    image = requirements.runtime.images[0] if requirements.runtime.images else None
    executable = Executable(
        kind=kind,
        name=requirements.name,
        location=location
        if kind
        in (ExecutableKind.JUPYTER_NOTEBOOK, ExecutableKind.SINGULARITY_CONTAINER, ExecutableKind.DOCKER_COMPOSE)
        else None,
        image=Image(
            locations=image.locations or [image.reference],
            digest=image.digest,
            architecture=image.platform_arch,
            os=image.platform_os,
        )
        if image and kind is ExecutableKind.DOCKER_CONTAINER
        else None,
        ports=[
            ProtocolPort(internal=p.port, protocol=p.protocol, path=p.path, access=p.public)
            for p in requirements.network.ports
        ]
        if kind is ExecutableKind.DOCKER_CONTAINER
        else [],
        repository=(location or repository)
        if kind in (ExecutableKind.BINDER_REPOSITORY, ExecutableKind.SNAKEMAKE_WORKFLOW)
        else None,
    )
    compute = requirements.compute
    return OfferSetRequest(
        name=requirements.name,
        dialect=dialect,
        executable=executable,
        compute=[
            ComputeResource(
                cores=MinMax(min=compute.cores_min.value, max=compute.cores_max.value if compute.cores_max else None),
                memory=MinMax(
                    min=mib_to_gib(compute.memory_min_mib.value),
                    max=mib_to_gib(compute.memory_max_mib.value) if compute.memory_max_mib else None,
                ),
            )
        ],
        storage=[StorageResource(size=MinMax(min=requirements.disk_min_gib))]
        if requirements.disk_min_mib.source is not Source.DEFAULT
        else [],
        schedule=ScheduleRequest(duration_min=timedelta(seconds=requirements.duration_seconds.value)),
        described=requirements,
    )

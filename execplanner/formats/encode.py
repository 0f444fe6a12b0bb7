"""Writing the model as ExecutionBroker documents, exactly, in the dialect the client spoke (2025 `type`,
2026 Calycopis `kind`+`meta`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any
from uuid import UUID

from execplanner.formats import uris
from execplanner.formats.iso8601 import (
    format_duration,
    format_instant,
    format_interval,
)
from execplanner.model.documents import (
    ComputeResource,
    DataResource,
    Dialect,
    Executable,
    ExecutableKind,
    Execution,
    Interval,
    MinMax,
    OfferSet,
    OfferSetRequest,
    ScheduleBlock,
    ScheduleRequest,
    Session,
    StorageResource,
    VolumeMount,
)
from execplanner.model.message import Message
from execplanner.model.phase import PHASE_ALIASES_2025, Phase


def _identity(
    dialect: Dialect, uri: str, uuid: UUID | None, name: str | None, created: Any, href: str | None
) -> dict[str, Any]:
    created_text = format_instant(created) if created else None
    if dialect is Dialect.CALYCOPIS_2026:
        meta = {"uuid": str(uuid) if uuid else None, "name": name, "url": href, "created": created_text}
        meta = {k: v for k, v in meta.items() if v is not None}
        return {"kind": uri, "meta": meta} if meta else {"kind": uri}
    ident = {"type": uri, "uuid": str(uuid) if uuid else None, "name": name, "created": created_text, "href": href}
    return {k: v for k, v in ident.items() if v is not None}


def _drop_none(mapping: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in mapping.items() if v is not None and v != [] and v != {}}


def message_tree(message: Message) -> dict[str, Any]:
    return {
        "level": message.level.value,
        "time": format_instant(message.time),
        "template": message.template,
        "values": dict(message.values),
        "message": message.message,
    }


def _range(value: MinMax | None) -> dict[str, int] | None:
    if value is None:
        return None
    return _drop_none({"min": value.min, "max": value.max}) or None


def _executable_tree(executable: Executable, dialect: Dialect) -> dict[str, Any]:
    uri = executable.kind_uri
    if not uri or uris.is_2026(uri) != (dialect is Dialect.CALYCOPIS_2026):
        uri = uris.executable_uri(executable.kind, dialect)
    out = _identity(dialect, uris.normalise(uri), executable.uuid, executable.name, executable.created, None)
    image = executable.image
    ports = [
        _drop_none(
            {
                "access": port.access,
                "internal": {"port": port.internal},
                "external": _drop_none({"port": port.external, "addresses": port.addresses}) or None,
                "protocol": port.protocol,
                "path": port.path,
            }
        )
        for port in executable.ports
    ]
    out.update(
        _drop_none(
            {
                "location": executable.location,
                "image": _drop_none(
                    {
                        "locations": image.locations,
                        "digest": image.digest,
                        "platform": _drop_none({"architecture": image.architecture, "os": image.os}) or None,
                    }
                )
                if image
                else None,
                "entrypoint": executable.entrypoint,
                "command": executable.command,
                "privileged": executable.privileged if executable.kind is ExecutableKind.DOCKER_CONTAINER else None,
                "environment": executable.environment,
                "network": {"ports": ports} if ports else None,
                "repository": executable.repository,
                "ref": executable.ref,
                "path": executable.path,
                "snakefile": executable.snakefile,
                "configfile": executable.configfile,
                "compose": executable.compose,
                "access": [access.model_dump(exclude_defaults=False) for access in executable.access],
            }
        )
    )
    return out


def _block(block: ScheduleBlock) -> dict[str, str]:
    return {
        "start": format_interval(Interval(start=block.start, duration=timedelta(0))),
        "duration": format_duration(block.duration),
    }


def _requested_tree(requested: ScheduleRequest) -> dict[str, Any] | None:
    duration: Any = None
    if requested.duration_min and requested.duration_max:
        duration = {
            "min": format_duration(requested.duration_min),
            "max": format_duration(requested.duration_max),
        }
    elif requested.duration_min:
        duration = format_duration(requested.duration_min)
    tree = _drop_none({"duration": duration, "start": [format_interval(i) for i in requested.start]})
    return tree or None


def _schedule_tree(session: Session, dialect: Dialect) -> dict[str, Any] | None:
    schedule: dict[str, Any] = {}
    requested = _requested_tree(session.requested)
    if requested:
        schedule["requested"] = requested
    if session.schedule:
        running_key = "available" if dialect is Dialect.CALYCOPIS_2026 else "executing"
        schedule["preparing"] = _block(session.schedule.preparing)
        schedule[running_key] = _block(session.schedule.available)
        schedule["releasing"] = _block(session.schedule.releasing)
    return schedule or None


def _volume_tree(volume: VolumeMount, dialect: Dialect) -> dict[str, Any]:
    return _drop_none(
        {
            **_identity(dialect, uris.component_uri("volume", dialect), None, volume.name, None, None),
            "path": volume.path,
            "mode": volume.mode,
            "cardinality": volume.cardinality,
            "resources": volume.resources,
        }
    )


def _compute_tree(compute: ComputeResource, dialect: Dialect) -> dict[str, Any]:
    out = _identity(dialect, uris.component_uri("compute", dialect), compute.uuid, compute.name, None, None)
    volumes = [_volume_tree(v, dialect) for v in compute.volumes]
    if dialect is Dialect.CALYCOPIS_2026:
        cores = compute.cores_offered or compute.cores
        memory = compute.memory_offered or compute.memory
        gpus = compute.gpus_offered or compute.gpus
        out.update(
            _drop_none({"cores": _range(cores), "memory": _range(memory), "gpus": _range(gpus), "volumes": volumes})
        )
    else:
        out.update(
            _drop_none(
                {
                    "cores": _drop_none({"requested": _range(compute.cores), "offered": _range(compute.cores_offered)}),
                    "memory": _drop_none(
                        {"requested": _range(compute.memory), "offered": _range(compute.memory_offered)}
                    ),
                    "gpus": _drop_none({"requested": _range(compute.gpus), "offered": _range(compute.gpus_offered)}),
                    "volumes": volumes,
                }
            )
        )
    return out


def _storage_tree(storage: StorageResource, dialect: Dialect) -> dict[str, Any]:
    out = _identity(dialect, uris.component_uri("storage", dialect), storage.uuid, storage.name, None, None)
    if dialect is Dialect.CALYCOPIS_2026:
        out["size"] = _range(storage.size_offered or storage.size)
    else:
        out["size"] = _drop_none({"requested": _range(storage.size), "offered": _range(storage.size_offered)})
    return _drop_none(out)


def _data_tree(data: DataResource, dialect: Dialect) -> dict[str, Any]:
    out = _identity(dialect, uris.component_uri("data", dialect), data.uuid, data.name, None, None)
    out.update(_drop_none({"location": data.location, "size": data.size_bytes}))
    return out


def _resources_tree(execution: Execution) -> dict[str, Any]:
    """Compute, storage, data (and, in 2026, volumes): top-level in 2026, under `resources` in 2025."""
    dialect = execution.dialect
    compute = [_compute_tree(c, dialect) for c in execution.compute]
    storage = [_storage_tree(s, dialect) for s in execution.storage]
    data = [_data_tree(d, dialect) for d in execution.data]
    if dialect is Dialect.CALYCOPIS_2026:
        volumes = [_volume_tree(v, dialect) for v in execution.volumes]
        return _drop_none(
            {"compute": compute[0] if compute else None, "storage": storage, "data": data, "volumes": volumes}
        )
    return {"resources": _drop_none({"compute": compute, "storage": storage, "data": data})}


def phase_name(phase: Phase, dialect: Dialect) -> str:
    if dialect is Dialect.BROKER_2025:
        return PHASE_ALIASES_2025.get(phase, phase.value)
    return phase.value


def session_tree(session: Session, base_url: str, options: Iterable[Phase]) -> dict[str, Any]:
    dialect = session.dialect
    href = f"{base_url}/sessions/{session.uuid}"
    out = _identity(dialect, uris.component_uri("session", dialect), session.uuid, session.name, session.created, href)
    option_values = [phase_name(p, dialect) for p in options]
    option_key = "kind" if dialect is Dialect.CALYCOPIS_2026 else "type"
    out.update(
        _drop_none(
            {
                "phase": phase_name(session.phase, dialect),
                "expires": format_instant(session.expires)
                if session.expires and session.phase in (Phase.OFFERED, Phase.EXPIRED)
                else None,
                "schedule": _schedule_tree(session, dialect),
                "executable": _executable_tree(session.executable, dialect),
            }
        )
    )
    out.update(_resources_tree(session))
    if session.placement:
        p = session.placement
        out["placement"] = _drop_none(
            {
                "site": p.site,
                "vo": p.vo,
                "flavor": p.flavor_name,
                "image": p.image_name,
                "network": p.network_name,
                "cores": p.cores,
                "memory": -(-p.memory_mib // 1024),
                "gpus": p.gpus or None,
            }
        )
    if option_values:
        out["options"] = [{option_key: uris.ENUM_OPTION, "path": "phase", "values": option_values}]
    if session.messages:
        out["messages"] = [message_tree(m) for m in session.messages]
    return out


def offerset_tree(offerset: OfferSet, base_url: str, options_for: Callable[[Session], Iterable[Phase]]) -> dict:
    dialect = offerset.dialect
    href = f"{base_url}/offersets/{offerset.uuid}"
    out = _identity(
        dialect, uris.component_uri("offerset", dialect), offerset.uuid, offerset.name, offerset.created, href
    )
    out["result"] = offerset.result.value
    if offerset.expires:
        out["expires"] = format_instant(offerset.expires)
    out["offers"] = [session_tree(s, base_url, options_for(s)) for s in offerset.offers]
    out["messages"] = [message_tree(m) for m in offerset.messages]
    return out


def request_tree(request: OfferSetRequest) -> dict[str, Any]:
    """An offer-set request document in the request's dialect (what `describe --request` prints)."""
    dialect = request.dialect
    out: dict[str, Any] = {}
    if dialect is Dialect.CALYCOPIS_2026:
        if request.name:
            out["meta"] = {"name": request.name}
    elif request.name:
        out["name"] = request.name
    out["executable"] = _executable_tree(request.executable, dialect)
    out.update({key: value for key, value in _resources_tree(request).items() if value})
    requested = _requested_tree(request.schedule)
    if requested:
        out["schedule"] = {"requested": requested}
    if request.vo:
        out["vo"] = request.vo
    return out

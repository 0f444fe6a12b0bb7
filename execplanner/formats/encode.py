"""Writing the model as ExecutionBroker documents, exactly, in the dialect the client spoke (2025 `type`,
2026 Calycopis `kind`+`meta`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from execplanner.formats import uris
from execplanner.formats.iso8601 import format_duration, format_instant
from execplanner.model.documents import (
    ComputeResource,
    DataResource,
    Dialect,
    Executable,
    ExecutableKind,
    Execution,
    LaunchIdentity,
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

# An offer set's answer writes the same few instants and durations dozens of times (every component of a 2026
# offer carries its session's created time and schedule): each is formatted once. Equal instants format alike
# whatever their zone (the text is UTC), so keying on the datetime is exact.
_instant = lru_cache(maxsize=4096)(format_instant)
_duration = lru_cache(maxsize=256)(format_duration)
_executable_uri = lru_cache(maxsize=256)(uris.canonical_executable_uri)
_component_uri = lru_cache(maxsize=64)(uris.component_uri)
# Each uuid of an answer is written several times (a session's in its href and identity, a component's in its
# fragment and identity): its text is made once.
_text = lru_cache(maxsize=1024)(str)


def _identity(
    dialect: Dialect, uri: str, uuid: UUID | None, name: str | None, created: Any, href: str | None
) -> dict[str, Any]:
    created_text = _instant(created) if created else None
    if dialect is Dialect.CALYCOPIS_2026:
        meta = {"uuid": _text(uuid) if uuid else None, "name": name, "url": href, "created": created_text}
        meta = {k: v for k, v in meta.items() if v is not None}
        return {"kind": uri, "meta": meta} if meta else {"kind": uri}
    ident = {"type": uri, "uuid": _text(uuid) if uuid else None, "name": name, "created": created_text, "href": href}
    return {k: v for k, v in ident.items() if v is not None}


@dataclass(frozen=True)
class _Owner:
    """What a 2026 session lends each of its components: a URL under its own, its creation time, its phase and
    its offered schedule (the reference broker gives every component these)."""

    href: str
    created: datetime
    phase: str
    schedule: dict[str, Any] | None


def _component(
    dialect: Dialect, component: str, uuid: UUID | None, name: str | None, owner: _Owner | None, fragment: str
) -> dict[str, Any]:
    """A component's identity; in a 2026 answer also `meta.url`, `meta.created`, its `phase` and `schedule`."""
    uri = _component_uri(component, dialect)
    if owner is None or dialect is not Dialect.CALYCOPIS_2026:
        return _identity(dialect, uri, uuid, name, None, None)
    out = _identity(dialect, uri, uuid, name, owner.created, f"{owner.href}#{fragment}")
    out["phase"] = owner.phase
    if owner.schedule:
        out["schedule"] = owner.schedule
    return out


def _drop_none(mapping: dict[str, Any]) -> dict[str, Any]:
    """The mapping without its None, [] and {} values (falsy values such as 0, False and '' stay)."""
    return {k: v for k, v in mapping.items() if v or (v is not None and not isinstance(v, (list, dict)))}


_PHASE_WORDS_2025 = re.compile(r"\b(" + "|".join(p.value for p in PHASE_ALIASES_2025) + r")\b")


def in_dialect(text: str, dialect: Dialect) -> str:
    """Text for a client of `dialect`: a 2025 client reads the 2025 phase names (READY, not AVAILABLE)."""
    if dialect is not Dialect.BROKER_2025:
        return text
    return _PHASE_WORDS_2025.sub(lambda m: PHASE_ALIASES_2025[Phase(m.group(1))], text)


def message_tree(message: Message, dialect: Dialect | None = None) -> dict[str, Any]:
    """A message; for a 2025 client the phase names in it are the 2025 ones."""
    words = (lambda text: in_dialect(text, dialect)) if dialect else str
    return {
        "level": message.level.value,
        "time": _instant(message.time),
        "template": words(message.template),
        "values": {key: words(value) for key, value in message.values.items()},
        "message": words(message.message),
    }


def _range(value: MinMax | None) -> dict[str, int] | None:
    if value is None:
        return None
    low, high = value.min, value.max
    if low is None:
        return None if high is None else {"max": high}
    return {"min": low} if high is None else {"min": low, "max": high}


def _executable_tree(executable: Executable, dialect: Dialect, owner: _Owner | None = None) -> dict[str, Any]:
    uri = _executable_uri(executable.kind_uri, executable.kind, dialect)
    if owner is not None and dialect is Dialect.CALYCOPIS_2026:
        created = executable.created or owner.created
        out = _identity(dialect, uri, executable.uuid, executable.name, created, f"{owner.href}#executable")
        out["phase"] = owner.phase
        if owner.schedule:
            out["schedule"] = owner.schedule
    else:
        out = _identity(dialect, uri, executable.uuid, executable.name, executable.created, None)
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


def _block(block: ScheduleBlock, bare_start: bool = False) -> dict[str, str]:
    """A schedule block; its start an interval `instant/PT0S`, or (2026 preparing, releasing) a bare instant."""
    start = _instant(block.start) if bare_start else f"{_instant(block.start)}/PT0S"
    return {"start": start, "duration": _duration(block.duration)}


def _offered_tree(session: Session, dialect: Dialect) -> dict[str, Any]:
    """The offered blocks. 2025 writes every start as an interval (the spec's ScheduleOfferItem); 2026 writes
    `preparing.start` and `releasing.start` as bare instants and only `available.start` as `instant/PT0S`."""
    if session.schedule is None:
        return {}
    bare = dialect is Dialect.CALYCOPIS_2026
    running_key = "available" if bare else "executing"
    return {
        "preparing": _block(session.schedule.preparing, bare),
        running_key: _block(session.schedule.available),
        "releasing": _block(session.schedule.releasing, bare),
    }


def _requested_tree(requested: ScheduleRequest) -> dict[str, Any] | None:
    duration: Any = None
    if requested.duration_min and requested.duration_max:
        duration = {
            "min": _duration(requested.duration_min),
            "max": _duration(requested.duration_max),
        }
    elif requested.duration_min:
        duration = _duration(requested.duration_min)
    starts = [f"{_instant(i.start)}/{_duration(i.duration)}" for i in requested.start]  # format_interval, memoised
    tree = _drop_none({"duration": duration, "start": starts})
    return tree or None


def _schedule_tree(session: Session, dialect: Dialect) -> dict[str, Any] | None:
    schedule: dict[str, Any] = {}
    requested = _requested_tree(session.requested)
    if requested:
        schedule["requested"] = requested
    schedule.update(_offered_tree(session, dialect))
    return schedule or None


def _volume_tree(volume: VolumeMount, dialect: Dialect, owner: _Owner | None = None, index: int = 0) -> dict[str, Any]:
    fragment = f"volume-{volume.name or index}"
    return _drop_none(
        {
            **_component(dialect, "volume", None, volume.name, owner, fragment),
            "path": volume.path,
            "mode": volume.mode,
            "cardinality": volume.cardinality,
            **_volume_resources(volume, dialect),
        }
    )


def _volume_resources(volume: VolumeMount, dialect: Dialect) -> dict[str, Any]:
    """2025 names a mount's one resource `resource` (the spec's SimpleComputeVolume); 2026, and 2025 mounts of
    several resources, list them as `resources`."""
    if dialect is Dialect.BROKER_2025 and len(volume.resources) == 1:
        return {"resource": volume.resources[0]}
    return {"resources": volume.resources}


def _compute_volumes(
    compute: ComputeResource, dialect: Dialect, named: AbstractSet[str], owner: _Owner | None
) -> list[Any]:
    """2026: a volume that is an entry of the top-level `volumes[]` is written by name, as the client sent it."""
    return [
        v.name if dialect is Dialect.CALYCOPIS_2026 and v.name in named else _volume_tree(v, dialect, owner, i)
        for i, v in enumerate(compute.volumes)
    ]


def _compute_tree(
    compute: ComputeResource,
    dialect: Dialect,
    named: AbstractSet[str] = frozenset(),
    owner: _Owner | None = None,
) -> dict[str, Any]:
    out = _component(dialect, "compute", compute.uuid, compute.name, owner, f"compute-{_text(compute.uuid)}")
    volumes = _compute_volumes(compute, dialect, named, owner)
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


def _storage_tree(storage: StorageResource, dialect: Dialect, owner: _Owner | None = None) -> dict[str, Any]:
    out = _component(dialect, "storage", storage.uuid, storage.name, owner, f"storage-{storage.uuid or storage.name}")
    if dialect is Dialect.CALYCOPIS_2026:
        out["size"] = _range(storage.size_offered or storage.size)
    else:
        out["size"] = _drop_none({"requested": _range(storage.size), "offered": _range(storage.size_offered)})
    return _drop_none(out)


def _data_tree(data: DataResource, dialect: Dialect, owner: _Owner | None = None) -> dict[str, Any]:
    out = _component(dialect, "data", data.uuid, data.name, owner, f"data-{data.uuid or data.name}")
    out.update(_drop_none({"location": data.location, "size": data.size_bytes}))
    return out


def _resources_tree(execution: Execution, owner: _Owner | None = None) -> dict[str, Any]:
    """Compute, storage, data (and, in 2026, volumes): top-level in 2026, under `resources` in 2025."""
    dialect = execution.dialect
    named = {v.name for v in execution.volumes if v.name}
    compute = [_compute_tree(c, dialect, named, owner) for c in execution.compute]
    storage = [_storage_tree(s, dialect, owner) for s in execution.storage]
    data = [_data_tree(d, dialect, owner) for d in execution.data]
    if dialect is Dialect.CALYCOPIS_2026:
        volumes = [_volume_tree(v, dialect, owner, i) for i, v in enumerate(execution.volumes)]
        return _drop_none(
            {"compute": compute[0] if compute else None, "storage": storage, "data": data, "volumes": volumes}
        )
    return {"resources": _drop_none({"compute": compute, "storage": storage, "data": data})}


def phase_name(phase: Phase, dialect: Dialect) -> str:
    if dialect is Dialect.BROKER_2025:
        return PHASE_ALIASES_2025.get(phase, phase.value)
    return phase.value


def _shows_expiry(session: Session) -> bool:
    """2026 keeps `expires` once set, after ACCEPTED or REJECTED too (as the reference broker does); the 2025 spec
    says it is valid only while OFFERED, so 2025 shows it while OFFERED and once EXPIRED."""
    if session.expires is None:
        return False
    return session.dialect is Dialect.CALYCOPIS_2026 or session.phase in (Phase.OFFERED, Phase.EXPIRED)


def offerset_name(offerset: OfferSet) -> str | None:
    """The offer set's name; a 2026 offer set always has one (`meta.name`), generated from its uuid when the
    request had none, so it is the same on every answer."""
    if offerset.name or offerset.dialect is not Dialect.CALYCOPIS_2026:
        return offerset.name
    text = str(offerset.uuid)
    # a version 7 uuid begins with its creation time, the same for a minute's offer sets: take its random end
    return f"offerset-{text[-8:] if offerset.uuid.version == 7 else text[:8]}"


def session_tree(session: Session, base_url: str, options: Iterable[Phase]) -> dict[str, Any]:
    dialect = session.dialect
    href = f"{base_url}/sessions/{_text(session.uuid)}"
    out = _identity(dialect, _component_uri("session", dialect), session.uuid, session.name, session.created, href)
    option_values = [phase_name(p, dialect) for p in options]
    option_key = "kind" if dialect is Dialect.CALYCOPIS_2026 else "type"
    phase = phase_name(session.phase, dialect)
    owner = _Owner(href, session.created, phase, _offered_tree(session, dialect) or None)
    out.update(
        _drop_none(
            {
                "phase": phase,
                # the 2025 spec requires `state` (and defines `phase`): strict 2025 clients need both
                "state": phase if dialect is Dialect.BROKER_2025 else None,
                "expires": _instant(session.expires)
                if session.expires is not None and _shows_expiry(session)
                else None,
                "schedule": _schedule_tree(session, dialect),
                "executable": _executable_tree(session.executable, dialect, owner),
            }
        )
    )
    out.update(_resources_tree(session, owner))
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
    if session.launch:
        out["launch"] = _launch_tree(session.launch)
    if option_values:
        out["options"] = [{option_key: uris.ENUM_OPTION, "path": "phase", "values": option_values}]
    if session.messages:
        out["messages"] = [message_tree(m, dialect) for m in session.messages]
    return out


def _launch_tree(launch: LaunchIdentity) -> dict[str, Any]:
    """execplanner extension: who launched the session, where, with what kind of credential (never a secret)."""
    expires = format_instant(launch.expires) if launch.expires else None
    return _drop_none(
        {
            "mode": launch.mode.value,
            "identity": launch.identity,
            "site": launch.site,
            "project": launch.project,
            "credential": launch.credential,
            "credential_id": launch.credential_id,
            "expires": expires,
        }
    )


def offerset_tree(
    offerset: OfferSet, base_url: str, options_for: Callable[[Session], Iterable[Phase]]
) -> dict[str, Any]:
    dialect = offerset.dialect
    href = f"{base_url}/offersets/{_text(offerset.uuid)}"
    out = _identity(
        dialect, _component_uri("offerset", dialect), offerset.uuid, offerset_name(offerset), offerset.created, href
    )
    out["result"] = offerset.result.value
    if offerset.expires and dialect is Dialect.CALYCOPIS_2026:  # the 2025 spec has no offer-set `expires`
        out["expires"] = _instant(offerset.expires)
    out["offers"] = [session_tree(s, base_url, options_for(s)) for s in offerset.offers]
    out["messages"] = [message_tree(m, dialect) for m in offerset.messages]
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
    if request.ssh_public_key:
        out["ssh_public_key"] = request.ssh_public_key
    return out

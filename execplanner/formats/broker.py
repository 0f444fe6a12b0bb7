"""ExecutionBroker documents (2025 `type` dialect and 2026 Calycopis `kind`+`meta` dialect) ↔ model.

Reading is lenient about shape (a single item where a list is expected, `cores: {min}` or
`cores: {requested: {min}}`, numbers as strings from XML); writing is exact, in the dialect the client spoke.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any, TypeVar
from uuid import UUID

from pydantic import BaseModel, ValidationError

from execplanner.errors import InvalidRequest
from execplanner.formats import uris
from execplanner.model.documents import (
    ComputeResource,
    DataResource,
    Dialect,
    Executable,
    ExecutableKind,
    Execution,
    Image,
    Interval,
    MinMax,
    OfferSet,
    OfferSetRequest,
    Port,
    ScheduleBlock,
    ScheduleRequest,
    Session,
    StorageResource,
    UpdateRequest,
    VolumeMount,
)
from execplanner.model.message import Message
from execplanner.model.phase import PHASE_ALIASES_2025, Phase
from execplanner.planner.schedule import (
    format_duration,
    format_instant,
    format_interval,
    parse_duration,
    parse_interval,
)

ROOT_REQUEST = "offers-request"
ROOT_OFFERSET = "offers-response"
ROOT_SESSION = "execution"
ROOT_UPDATE = "update-request"

M = TypeVar("M", bound=BaseModel)


class UnknownExecutableType(InvalidRequest):
    """The executable's type URI names nothing we can run: the answer is a NO naming it, not a 4xx."""

    def __init__(self, uri: str) -> None:
        super().__init__(f"unknown executable type '{uri}'")
        self.uri = uri


# ---------------------------------------------------------------- reading


def as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"'{where}' must be a mapping, not {type(value).__name__}")
    return value


def _build(cls: type[M], where: str, **fields: Any) -> M:
    try:
        return cls.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{where}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise InvalidRequest(f"invalid {where}: {problems}") from exc


def detect_dialect(tree: dict[str, Any]) -> Dialect:
    """2026 documents carry `kind` or `meta`, or v1.0 URIs; everything else is read as 2025."""

    def looks_2026(node: Any) -> bool:
        if not isinstance(node, dict):
            return False
        if "kind" in node or "meta" in node:
            return True
        return isinstance(node.get("type"), str) and uris.is_2026(node["type"])

    nodes = [tree, tree.get("executable"), tree.get("compute"), *as_list(tree.get("data"))]
    if isinstance(tree.get("update"), dict):
        nodes.append(tree["update"])
    return Dialect.CALYCOPIS_2026 if any(looks_2026(n) for n in nodes) else Dialect.BROKER_2025


def _name(node: dict[str, Any]) -> str | None:
    meta = node.get("meta")
    if isinstance(meta, dict) and meta.get("name"):
        return str(meta["name"])
    return str(node["name"]) if node.get("name") not in (None, "") else None


def _type_of(node: dict[str, Any]) -> str | None:
    value = node.get("kind") or node.get("type")
    return str(value) if value else None


def _min_max(node: Any, where: str) -> MinMax:
    node = _mapping(node, where)
    if "requested" in node:
        node = _mapping(node["requested"], where + ".requested")
    return _build(MinMax, where, min=node.get("min"), max=node.get("max"))


def _read_ports(executable: dict[str, Any]) -> list[Port]:
    network = _mapping(executable.get("network"), "executable.network")
    ports = []
    for index, item in enumerate(as_list(network.get("ports"))):
        where = f"executable.network.ports[{index}]"
        item = _mapping(item, where)
        internal = item.get("internal")
        internal = _mapping(internal, where + ".internal").get("port") if isinstance(internal, dict) else internal
        external = item.get("external")
        external = _mapping(external, where + ".external").get("port") if isinstance(external, dict) else external
        ports.append(
            _build(
                Port,
                where,
                internal=internal,
                external=external,
                protocol=str(item.get("protocol") or "TCP").upper(),
                path=item.get("path"),
                access=item.get("access", True),
            )
        )
    return ports


def _read_executable(node: Any) -> Executable:
    node = _mapping(node, "executable")
    if not node:
        raise InvalidRequest("the request has no executable")
    uri = _type_of(node)
    if not uri:
        raise InvalidRequest("the executable has no 'type' (2025) or 'kind' (2026) naming what it is")
    kind = uris.executable_kind(uri)
    if kind is None:
        raise UnknownExecutableType(uri)
    image = None
    if "image" in node:
        raw = node["image"]
        raw = {"locations": [raw]} if isinstance(raw, str) else _mapping(raw, "executable.image")
        platform = _mapping(raw.get("platform"), "executable.image.platform")
        image = _build(
            Image,
            "executable.image",
            locations=[str(x) for x in as_list(raw.get("locations") or raw.get("location"))],
            digest=raw.get("digest"),
            architecture=platform.get("architecture"),
            os=platform.get("os"),
        )
    environment = _mapping(node.get("environment"), "executable.environment")
    return _build(
        Executable,
        "executable",
        kind=kind,
        kind_uri=uri,
        name=_name(node),
        location=node.get("location"),
        image=image,
        entrypoint=node.get("entrypoint"),
        command=[str(x) for x in as_list(node.get("command"))],
        privileged=node.get("privileged"),
        environment={str(k): str(v) for k, v in environment.items()},
        ports=_read_ports(node),
        repository=node.get("repository"),
        ref=node.get("ref"),
        path=node.get("path"),
        snakefile=node.get("snakefile"),
        configfile=node.get("configfile"),
        compose=node.get("compose"),
    )


def _read_volume(node: Any, where: str) -> VolumeMount:
    node = _mapping(node, where)
    resources = as_list(node.get("resources")) + as_list(node.get("resource"))
    return _build(
        VolumeMount,
        where,
        name=_name(node),
        path=node.get("path"),
        mode=str(node.get("mode") or "READONLY").upper(),
        cardinality=node.get("cardinality"),
        resources=[str(r) for r in resources],
    )


def _read_compute(node: Any, index: int) -> ComputeResource:
    where = f"compute[{index}]"
    node = _mapping(node, where)
    return ComputeResource(
        name=_name(node),
        cores=_min_max(node.get("cores"), where + ".cores"),
        memory=_min_max(node.get("memory"), where + ".memory"),
        volumes=[_read_volume(v, f"{where}.volumes[{i}]") for i, v in enumerate(as_list(node.get("volumes")))],
    )


def _read_storage(node: Any, index: int) -> StorageResource:
    where = f"storage[{index}]"
    node = _mapping(node, where)
    return StorageResource(name=_name(node), size=_min_max(node.get("size"), where + ".size"))


def _read_data(node: Any, index: int) -> DataResource:
    where = f"data[{index}]"
    node = _mapping(node, where)
    return _build(DataResource, where, name=_name(node), location=node.get("location"), size_bytes=node.get("size"))


def _read_schedule(node: Any) -> ScheduleRequest:
    schedule = _mapping(node, "schedule")
    requested = _mapping(schedule.get("requested", schedule), "schedule.requested")
    duration = requested.get("duration")
    duration_min = duration_max = None
    if isinstance(duration, dict):
        duration_min = _duration(duration.get("min"))
        duration_max = _duration(duration.get("max"))
    elif duration not in (None, ""):
        duration_min = _duration(duration)
    if duration_min and duration_max and duration_max < duration_min:
        raise InvalidRequest("schedule.requested.duration: max is shorter than min")
    starts: list[Interval] = [parse_interval(str(item)) for item in as_list(requested.get("start"))]
    return ScheduleRequest(duration_min=duration_min, duration_max=duration_max, start=starts)


def _duration(value: Any) -> timedelta | None:
    if value in (None, ""):
        return None
    delta = parse_duration(str(value))
    if delta <= timedelta(0):
        raise InvalidRequest(f"a requested duration must be positive, not '{value}'")
    return delta


def read_offerset_request(tree: dict[str, Any]) -> OfferSetRequest:
    dialect = detect_dialect(tree)
    executable = _read_executable(tree.get("executable"))
    if dialect is Dialect.CALYCOPIS_2026:
        compute_nodes, storage_nodes, data_nodes = tree.get("compute"), tree.get("storage"), tree.get("data")
    else:
        resources = _mapping(tree.get("resources"), "resources")
        compute_nodes = resources.get("compute", tree.get("compute"))
        storage_nodes = resources.get("storage", tree.get("storage"))
        data_nodes = resources.get("data", tree.get("data"))
    return OfferSetRequest(
        name=_name(tree),
        dialect=dialect,
        executable=executable,
        compute=[_read_compute(n, i) for i, n in enumerate(as_list(compute_nodes))],
        storage=[_read_storage(n, i) for i, n in enumerate(as_list(storage_nodes))],
        data=[_read_data(n, i) for i, n in enumerate(as_list(data_nodes))],
        volumes=[_read_volume(n, f"volumes[{i}]") for i, n in enumerate(as_list(tree.get("volumes")))],
        schedule=_read_schedule(tree.get("schedule")),
        vo=str(tree["vo"]) if tree.get("vo") else None,
    )


def read_update(tree: dict[str, Any]) -> UpdateRequest:
    """Both `{update: {type|kind, path, value}}` and the flat 2026 `{kind, path, value}`."""
    node = tree.get("update", tree)
    node = _mapping(node, "update")
    kind = _type_of(node) or uris.ENUM_UPDATE
    if kind != uris.ENUM_UPDATE:
        raise InvalidRequest(f"unsupported update type '{kind}'; only '{uris.ENUM_UPDATE}' is understood")
    if not node.get("path"):
        raise InvalidRequest("the update has no 'path'")
    if node.get("value") in (None, ""):
        raise InvalidRequest("the update has no 'value'")
    return UpdateRequest(kind=kind, path=str(node["path"]), value=node["value"])


# ---------------------------------------------------------------- writing


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
        out.update(_drop_none({"cores": _range(cores), "memory": _range(memory), "volumes": volumes}))
    else:
        out.update(
            _drop_none(
                {
                    "cores": _drop_none({"requested": _range(compute.cores), "offered": _range(compute.cores_offered)}),
                    "memory": _drop_none(
                        {"requested": _range(compute.memory), "offered": _range(compute.memory_offered)}
                    ),
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

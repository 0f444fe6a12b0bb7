"""Reading ExecutionBroker documents (2025 `type` dialect, 2026 Calycopis `kind`+`meta` dialect) into the model.

Lenient about shape: a single item where a list is expected, `cores: {min}` or `cores: {requested: {min}}`,
numbers as strings from XML. Every refusal is an `InvalidRequest` naming the field.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from execplanner.errors import InvalidRequest
from execplanner.formats import bounds, uris
from execplanner.formats.iso8601 import (
    parse_duration,
    parse_interval,
)
from execplanner.model.documents import (
    SSH_PUBLIC_KEY,
    ComputeResource,
    DataResource,
    Dialect,
    Executable,
    ExecutableKind,
    Image,
    Interval,
    MinMax,
    OfferSetRequest,
    Port,
    ScheduleRequest,
    StorageResource,
    UpdateRequest,
    VolumeMount,
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

    nodes = [tree, tree.get("executable"), *as_list(tree.get("compute")), *as_list(tree.get("computer"))]
    nodes += as_list(tree.get("data"))
    if isinstance(tree.get("update"), dict):
        nodes.append(tree["update"])
    return Dialect.CALYCOPIS_2026 if any(looks_2026(n) for n in nodes) else Dialect.BROKER_2025


NAME_LIMIT = 256


def _name(node: dict[str, Any]) -> str | None:
    """A document's or component's name (2026: `meta.name`), at most `NAME_LIMIT` characters."""
    meta = node.get("meta")
    if isinstance(meta, dict) and meta.get("name"):
        name = str(meta["name"])
    elif node.get("name") not in (None, ""):
        name = str(node["name"])
    else:
        return None
    if len(name) > NAME_LIMIT:
        raise InvalidRequest(f"a name may have at most {NAME_LIMIT} characters; '{name[:40]}…' has {len(name)}")
    if not name.isprintable():
        raise InvalidRequest(f"a name may not contain control characters: {name[:40]!r}")
    return name


def request_name(tree: dict[str, Any]) -> str | None:
    """The request's own name, checked as when the request is read (for requests refused before reading)."""
    return _name(tree)


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


def _compute_volume(item: Any, where: str, named: dict[str, VolumeMount]) -> VolumeMount:
    """A compute resource's volume: a mount of its own, or (2026) the name of an entry of the top-level
    `volumes[]`."""
    if isinstance(item, str):
        if item not in named:
            known = ", ".join(sorted(named)) or "none"
            raise InvalidRequest(
                f"'{where}' names volume '{item}', but the request's volumes[] has no such name "
                f"(named volumes: {known})"
            )
        return named[item]
    return _read_volume(item, where)


def _read_compute(node: Any, index: int, named: dict[str, VolumeMount], label: str = "compute") -> ComputeResource:
    where = f"{label}[{index}]"
    node = _mapping(node, where)
    return ComputeResource(
        name=_name(node),
        cores=_min_max(node.get("cores"), where + ".cores"),
        memory=_min_max(node.get("memory"), where + ".memory"),
        gpus=_min_max(node.get("gpus"), where + ".gpus"),
        volumes=[
            _compute_volume(v, f"{where}.volumes[{i}]", named) for i, v in enumerate(as_list(node.get("volumes")))
        ],
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
    starts: list[Interval] = [
        bounds.interval(parse_interval, str(item), f"schedule.requested.start[{index}]")
        for index, item in enumerate(as_list(requested.get("start")))
    ]
    return ScheduleRequest(duration_min=duration_min, duration_max=duration_max, start=starts)


def _duration(value: Any) -> timedelta | None:
    if value in (None, ""):
        return None
    delta = bounds.duration(parse_duration, str(value), "schedule.requested.duration")
    if delta <= timedelta(0):
        raise InvalidRequest(f"a requested duration must be positive, not '{value}'")
    return delta


# What each executable kind cannot run without: (field, why). An impossible request is refused with a 400 naming
# the field, never answered YES.
REQUIRED_FIELDS: dict[ExecutableKind, tuple[str, str]] = {
    ExecutableKind.JUPYTER_NOTEBOOK: ("location", "the notebook's URL, so the service can fetch it"),
    ExecutableKind.BINDER_REPOSITORY: ("repository", "the repository Binder builds the environment from"),
}


def _check_runnable(executable: Executable) -> None:
    required = REQUIRED_FIELDS.get(executable.kind)
    if required and not getattr(executable, required[0]):
        field, why = required
        raise InvalidRequest(f"'executable.{field}' is required for a {executable.kind.value}: {why}")


def _compute_nodes(tree: dict[str, Any], dialect: Dialect) -> tuple[list[Any], str]:
    """The compute resources and the key they came under. Mid-2025 documents put them in a top-level
    `computer:` block (the same fields as `compute`): read it, and refuse a request that sends both."""
    resources = {} if dialect is Dialect.CALYCOPIS_2026 else _mapping(tree.get("resources"), "resources")
    compute = resources.get("compute", tree.get("compute"))
    computer = tree.get("computer")
    if computer not in (None, "") and compute not in (None, ""):
        raise InvalidRequest("the request has both 'compute' and 'computer' (its mid-2025 name): send one of them")
    if computer not in (None, ""):
        return as_list(computer), "computer"
    return as_list(compute), "compute"


def read_offerset_request(tree: dict[str, Any]) -> OfferSetRequest:
    dialect = detect_dialect(tree)
    executable = _read_executable(tree.get("executable"))
    if dialect is Dialect.CALYCOPIS_2026:
        storage_nodes, data_nodes = tree.get("storage"), tree.get("data")
    else:
        resources = _mapping(tree.get("resources"), "resources")
        storage_nodes = resources.get("storage", tree.get("storage"))
        data_nodes = resources.get("data", tree.get("data"))
    storage = [_read_storage(n, i) for i, n in enumerate(as_list(storage_nodes))]
    data = [_read_data(n, i) for i, n in enumerate(as_list(data_nodes))]
    volumes = [_read_volume(n, f"volumes[{i}]") for i, n in enumerate(as_list(tree.get("volumes")))]
    named = {v.name: v for v in volumes if v.name}
    compute_nodes, label = _compute_nodes(tree, dialect)
    request = OfferSetRequest(
        name=_name(tree),
        dialect=dialect,
        executable=executable,
        compute=[_read_compute(n, i, named, label) for i, n in enumerate(compute_nodes)],
        storage=storage,
        data=data,
        volumes=volumes,
        schedule=_read_schedule(tree.get("schedule")),
        vo=str(tree["vo"]) if tree.get("vo") else None,
        ssh_public_key=_ssh_public_key(tree.get("ssh_public_key")),
    )
    _check_volume_resources(request)
    _check_runnable(executable)
    return request


def _check_volume_resources(request: OfferSetRequest) -> None:
    """A mount's `resources[]` (top-level `volumes[]`, or a compute resource's own mounts) name entries of
    `storage[]` or `data[]`: an unknown name is a 400 naming it."""
    known = {r.name for r in request.storage if r.name} | {r.name for r in request.data if r.name}
    mounts = [(f"volumes[{i}]", v) for i, v in enumerate(request.volumes)]
    for c, compute in enumerate(request.compute):
        mounts += [(f"compute[{c}].volumes[{i}]", v) for i, v in enumerate(compute.volumes) if v not in request.volumes]
    for where, volume in mounts:
        for position, name in enumerate(volume.resources):
            if name not in known:
                listed = ", ".join(sorted(known)) or "none"
                raise InvalidRequest(
                    f"'{where}.resources[{position}]' names '{name}', but no storage[] or data[] entry has "
                    f"that name (named resources: {listed})"
                )


def _ssh_public_key(value: Any) -> str | None:
    """execplanner extension: one OpenSSH public key line, or a 400 saying what is wrong."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if len(text) > 16384 or not re.match(SSH_PUBLIC_KEY, text):
        raise InvalidRequest("ssh_public_key is not an OpenSSH public key (e.g. 'ssh-ed25519 AAAA... me@host')")
    return text


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

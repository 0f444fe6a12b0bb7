"""docker-compose files: every service runs on the one VM, so their resources add up.

`deploy.resources.reservations` are minimums and `limits` maximums (also the older `cpus`, `mem_limit`,
`mem_reservation` keys). Published ports are public; `expose`d ones are not. Environment values are never
recorded: only variable names, since values are often secrets. Variables are interpolated before anything is
read (`executables/interpolation.py`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from execplanner.errors import InvalidExecutable
from execplanner.executables.defaults import default_requirements
from execplanner.executables.images import parse_image_reference
from execplanner.executables.interpolation import interpolate
from execplanner.executables.limits import DEFAULT_LIMITS, ParseLimits, check_size, decode_text
from execplanner.executables.ports import add_port, guess_port
from execplanner.executables.quantities import parse_size_mib
from execplanner.executables.safe_yaml import load_yaml
from execplanner.model.requirements import Estimate, ExecutableKind, Gpu, Requirements, VolumeMount

_PORT_SPEC = re.compile(
    r"^(?:(?P<ip>\[[^\]]+\]|\d+\.\d+\.\d+\.\d+):)?(?:(?P<published>\d+(?:-\d+)?):)?(?P<target>\d+(?:-\d+)?)(?:/(?P<proto>tcp|udp|sctp))?$",
    re.IGNORECASE,
)


@dataclass
class _Totals:
    cpus_min: float = 0.0
    cpus_max: float = 0.0
    memory_min: int = 0
    memory_max: int = 0
    any_min_cpu: bool = False
    any_max_cpu: bool = False
    any_min_mem: bool = False
    any_max_mem: bool = False
    gpus: int = 0


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _port_numbers(spec: str) -> list[int]:
    first, _, last = spec.partition("-")
    return [port for port in range(int(first), int(last or first) + 1) if 0 < port < 65536][:100]


def _service_ports(name: str, service: dict[str, Any], record: Requirements) -> None:
    for entry in _list(service.get("ports")):
        if isinstance(entry, dict):
            target, published = entry.get("target"), entry.get("published")
            public = published is not None and entry.get("host_ip") not in ("127.0.0.1", "::1")
            if isinstance(target, int) and not isinstance(target, bool) and 0 < target < 65536:
                add_port(record.network.ports, guess_port(target, str(entry.get("protocol", "tcp")), public))
            continue
        match = _PORT_SPEC.match(str(entry).strip())
        if not match:
            record.warn("service {service}: port {port} not understood; ignored", service=name, port=entry)
            continue
        public = match.group("published") is not None and match.group("ip") not in ("127.0.0.1", "[::1]")
        for port in _port_numbers(match.group("target")):
            add_port(record.network.ports, guess_port(port, match.group("proto") or "tcp", public))
    for entry in _list(service.get("expose")):
        match = _PORT_SPEC.match(str(entry).strip())
        if match:
            for port in _port_numbers(match.group("target")):
                add_port(record.network.ports, guess_port(port, match.group("proto") or "tcp", False))


def _cpus(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        cpus = float(value)
    except ValueError:
        return None
    return cpus if 0 <= cpus < 10_000 else None


def _add_resources(name: str, service: dict[str, Any], totals: _Totals, record: Requirements) -> None:
    resources = _mapping(_mapping(service.get("deploy")).get("resources"))
    limits = _mapping(resources.get("limits"))
    reservations = _mapping(resources.get("reservations"))
    cpu_max = _cpus(limits.get("cpus", service.get("cpus")))
    cpu_min = _cpus(reservations.get("cpus"))
    mem_max = limits.get("memory", service.get("mem_limit"))
    mem_min = reservations.get("memory", service.get("mem_reservation"))
    if cpu_max is not None:
        totals.cpus_max += cpu_max
        totals.any_max_cpu = True
    if cpu_min is not None:
        totals.cpus_min += cpu_min
        totals.any_min_cpu = True
    for value, is_min in ((mem_min, True), (mem_max, False)):
        if value is None:
            continue
        mib = parse_size_mib(value, "b")
        if mib is None:
            record.warn("service {service}: memory {value} not understood; ignored", service=name, value=value)
        elif is_min:
            totals.memory_min += mib
            totals.any_min_mem = True
        else:
            totals.memory_max += mib
            totals.any_max_mem = True
    for device in _list(reservations.get("devices")):
        if isinstance(device, dict) and (
            "gpu" in _list(device.get("capabilities")) or device.get("driver") == "nvidia"
        ):
            count = device.get("count", 1)
            totals.gpus += 1 if count == "all" or not isinstance(count, int) else count
    if service.get("runtime") == "nvidia" and not reservations.get("devices"):
        totals.gpus += 1


def _apply_totals(totals: _Totals, record: Requirements) -> None:
    compute = record.compute
    note = "sum over compose services"
    if totals.any_min_cpu:
        compute.cores_min = Estimate.declared(max(1, math.ceil(totals.cpus_min)), note + " (reservations)")
    elif totals.any_max_cpu:
        compute.cores_min = Estimate.derived(max(1, math.ceil(totals.cpus_max)), note + " (limits)", 0.7)
    if totals.any_max_cpu:
        compute.cores_max = Estimate.declared(max(1, math.ceil(totals.cpus_max)), note + " (limits)")
    if totals.any_min_mem:
        compute.memory_min_mib = Estimate.declared(totals.memory_min, note + " (reservations)")
    elif totals.any_max_mem:
        compute.memory_min_mib = Estimate.derived(totals.memory_max, note + " (limits)", 0.7)
    if totals.any_max_mem:
        compute.memory_max_mib = Estimate.declared(totals.memory_max, note + " (limits)")
    if totals.gpus:
        compute.gpu = Gpu(count=Estimate.declared(totals.gpus, "compose device reservations"), vendor="nvidia")


def _service_storage(service: dict[str, Any], record: Requirements) -> None:
    for entry in _list(service.get("volumes")):
        if isinstance(entry, dict):
            if isinstance(entry.get("target"), str):
                mount = VolumeMount(
                    target=entry["target"], source=entry.get("source"), read_only=bool(entry.get("read_only"))
                )
                record.volumes.append(mount)
            continue
        parts = str(entry).split(":")
        if len(parts) == 1:
            record.volumes.append(VolumeMount(target=parts[0]))
        else:
            record.volumes.append(VolumeMount(source=parts[0], target=parts[1], read_only="ro" in parts[2:]))
            if parts[0].startswith((".", "/", "~")):
                record.warn("bind mount {source} comes from the host and starts empty on a new VM", source=parts[0])
    environment = service.get("environment")
    if isinstance(environment, dict):
        names = [str(key) for key in environment]
    else:
        names = [str(entry).split("=", 1)[0] for entry in _list(environment)]
    for name in names:
        if str(name) not in record.runtime.environment_variables:
            record.runtime.environment_variables.append(str(name))


def _service(name: str, service: Any, totals: _Totals, record: Requirements) -> None:
    if not isinstance(service, dict):
        raise InvalidExecutable(f"compose service {name!r} is not a mapping")
    image = service.get("image")
    if isinstance(image, str):
        parsed = parse_image_reference(image)
        if service.get("platform"):
            os_name, _, arch = str(service["platform"]).partition("/")
            parsed = parsed.model_copy(update={"platform_os": os_name, "platform_arch": arch or None})
        record.runtime.images.append(parsed)
    elif service.get("build") is None:
        raise InvalidExecutable(f"compose service {name!r} has neither image nor build")
    else:
        record.runtime.build = "dockerfile"
    _service_ports(name, service, record)
    _add_resources(name, service, totals, record)
    _service_storage(service, record)


def compose_requirements(
    data: bytes,
    filename: str | None = None,
    limits: ParseLimits = DEFAULT_LIMITS,
    environment: Mapping[str, str] | None = None,
) -> Requirements:
    """What a compose file needs. Its `${VAR}` expressions are interpolated first (from `environment`; unset
    variables are empty, defaults apply), as `docker compose` does before it reads images or ports."""
    what = filename or "compose file"
    check_size(data, what, limits)
    document = interpolate(load_yaml(decode_text(data, what), what, limits), environment or {}, what)
    if not isinstance(document, dict) or not isinstance(document.get("services"), dict) or not document["services"]:
        raise InvalidExecutable(
            f"{what} is not a compose file: it needs a `services:` mapping with at least one service"
        )
    name = document.get("name") or (PurePosixPath(filename).stem if filename else None)
    record = default_requirements(ExecutableKind.DOCKER_COMPOSE, str(name) if name else None)
    record.source_files = [filename] if filename else []
    record.runtime.needs_docker = True
    totals = _Totals()
    for service_name, service in document["services"].items():
        _service(str(service_name), service, totals, record)
    if record.runtime.build is None:
        record.runtime.build = "image"
    _apply_totals(totals, record)
    record.interactive = any(port.public for port in record.network.ports)
    return record

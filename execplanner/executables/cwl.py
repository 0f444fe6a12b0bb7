"""CWL tools: ResourceRequirement (cores, RAM and disk in MiB), DockerRequirement, SoftwareRequirement,
NetworkAccess and the cwltool CUDARequirement. `requirements` are declared needs; `hints` count a little less."""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any

from execplanner.errors import InvalidExecutable
from execplanner.executables.defaults import default_requirements
from execplanner.executables.images import parse_image_reference
from execplanner.executables.limits import DEFAULT_LIMITS, ParseLimits, check_size, decode_text
from execplanner.executables.safe_yaml import load_yaml
from execplanner.model.requirements import Estimate, ExecutableKind, Gpu, Requirements

_SUPPORTED_CLASSES = ("CommandLineTool", "Workflow", "ExpressionTool")


def _entries(section: Any) -> list[dict[str, Any]]:
    """CWL allows a list of {class: ...} or a map {ClassName: {...}}."""
    if isinstance(section, list):
        return [entry for entry in section if isinstance(entry, dict)]
    if isinstance(section, dict):
        return [{"class": key, **(value if isinstance(value, dict) else {})} for key, value in section.items()]
    return []


def _number(entry: dict[str, Any], key: str, record: Requirements) -> int | None:
    value = entry.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        record.warn(
            "CWL {key} is an expression ({value}); evaluated only at run time, ignored", key=key, value=str(value)[:60]
        )
        return None
    return int(-(-value // 1))


def _apply_resources(entry: dict[str, Any], record: Requirements, confidence: float, where: str) -> None:
    compute = record.compute
    if (cores := _number(entry, "coresMin", record)) is not None:
        compute.cores_min = Estimate.declared(max(1, cores), f"{where} coresMin", confidence)
    if (cores := _number(entry, "coresMax", record)) is not None:
        compute.cores_max = Estimate.declared(max(1, cores), f"{where} coresMax", confidence)
    if (ram := _number(entry, "ramMin", record)) is not None:
        compute.memory_min_mib = Estimate.declared(ram, f"{where} ramMin", confidence)
    if (ram := _number(entry, "ramMax", record)) is not None:
        compute.memory_max_mib = Estimate.declared(ram, f"{where} ramMax", confidence)
    disk = [_number(entry, key, record) for key in ("tmpdirMin", "outdirMin")]
    if any(value is not None for value in disk):
        total = sum(value or 0 for value in disk)
        record.disk_min_mib = Estimate.declared(total, f"{where} tmpdirMin + outdirMin", confidence)


def _apply_entry(entry: dict[str, Any], record: Requirements, confidence: float, where: str) -> None:
    cls = str(entry.get("class", "")).split(":")[-1]
    if cls == "ResourceRequirement":
        _apply_resources(entry, record, confidence, where)
    elif cls == "DockerRequirement":
        image = entry.get("dockerPull") or entry.get("dockerImageId")
        if isinstance(image, str):
            record.runtime.images.append(parse_image_reference(image))
            record.runtime.build = "image"
        elif entry.get("dockerFile"):
            record.runtime.build = "dockerfile"
        record.runtime.needs_docker = True
    elif cls == "SoftwareRequirement":
        for package in entry.get("packages", []) or []:
            name = package.get("package") if isinstance(package, dict) else package
            if isinstance(name, str) and name not in record.runtime.packages:
                record.runtime.packages.append(name)
    elif cls == "NetworkAccess":
        record.network.outbound = entry.get("networkAccess") is True
    elif cls == "CUDARequirement":
        count = entry.get("cudaDeviceCountMin", 1)
        record.compute.gpu = Gpu(
            count=Estimate.declared(count if isinstance(count, int) else 1, f"{where} CUDARequirement", confidence),
            vendor="nvidia",
        )


def _document(data: bytes, what: str, limits: ParseLimits) -> dict[str, Any]:
    """The CWL document (JSON or YAML) of a tool or workflow; anything else is refused, saying why."""
    check_size(data, what, limits)
    text = decode_text(data, what)
    if text.lstrip().startswith("{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidExecutable(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    else:
        document = load_yaml(text, what, limits)
    if not isinstance(document, dict) or "cwlVersion" not in document:
        raise InvalidExecutable(f"{what} is not a CWL document (no cwlVersion)")
    if document.get("class") not in _SUPPORTED_CLASSES:
        raise InvalidExecutable(f"{what}: CWL class {document.get('class')!r} is not a tool or workflow")
    return document


def cwl_requirements(data: bytes, filename: str | None = None, limits: ParseLimits = DEFAULT_LIMITS) -> Requirements:
    what = filename or "CWL document"
    document = _document(data, what, limits)
    name = document.get("label") or document.get("id") or (PurePosixPath(filename).stem if filename else None)
    record = default_requirements(ExecutableKind.CWL_TOOL, str(name).lstrip("#") if name else None)
    record.source_files = [filename] if filename else []
    record.network.outbound = False  # CWL denies network access unless NetworkAccess says otherwise
    if document.get("class") == "Workflow":
        record.warn("{file} is a CWL Workflow; only its top-level requirements and hints are read", file=what)
    for entry in _entries(document.get("hints")):
        _apply_entry(entry, record, 0.8, "hints")
    for entry in _entries(document.get("requirements")):
        _apply_entry(entry, record, 0.95, "requirements")
    if record.runtime.images:
        record.network.outbound = True  # pulling the image
    return record

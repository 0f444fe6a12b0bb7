"""codemeta.json (v2 and v3 contexts): the author's own statement of language, platform, requirements and
identifiers. It rarely stands alone; `merge.enrich` lays it over whatever else describes the software.

Free-text requirements ("8 GB RAM", "4 cores", "100GB disk") are parsed; wrong types (a number, a list of
objects) degrade to a WARN rather than failing, since the rest of the file is still useful.
"""

from __future__ import annotations

import json
import re
from typing import Any

from execplanner.errors import InvalidExecutable
from execplanner.executables.defaults import default_requirements
from execplanner.executables.limits import DEFAULT_LIMITS, ParseLimits, check_size, decode_text
from execplanner.executables.packages import requirement_name
from execplanner.executables.quantities import parse_arch, parse_cores, parse_size_mib
from execplanner.model.requirements import Estimate, ExecutableKind, Requirements

CODEMETA_V2 = "https://doi.org/10.5063/schema/codemeta-2.0"
CODEMETA_V3 = "https://w3id.org/codemeta/3.0"
_KNOWN_CONTEXTS = (
    CODEMETA_V2,
    CODEMETA_V3,
    "https://w3id.org/codemeta/v3.0",
    "https://raw.githubusercontent.com/codemeta",
)
_DOI = re.compile(r"(10\.\d{4,9}/\S+)")
_LANGUAGE_VERSION = re.compile(r"^\s*([A-Za-z][\w+#-]*)\s*(?:v(?:ersion)?\s*)?([\d][\w.]*)?", re.IGNORECASE)


def _texts(document: dict[str, Any], key: str, record: Requirements) -> list[str]:
    """A property as a list of strings: text, a list of text, or objects with a name; anything else WARNs."""
    value = document.get(key)
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    texts: list[str] = []
    for item in items:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            version = item.get("version")
            texts.append(f"{item['name']} {version}" if isinstance(version, str | int | float) else item["name"])
        else:
            record.warn(
                'codemeta {key} should be text (e.g. "8 GB"), found {value}; ignored',
                key=key,
                value=json.dumps(item)[:60],
            )
    return texts


def _context_ok(document: dict[str, Any]) -> bool:
    context = json.dumps(document.get("@context", ""))
    return any(known in context for known in _KNOWN_CONTEXTS) or "codemeta" in context


def _sizes(document: dict[str, Any], key: str, record: Requirements) -> list[tuple[int, str]]:
    sizes: list[tuple[int, str]] = []
    for text in _texts(document, key, record):
        mib = parse_size_mib(text, None)
        if mib is None:
            record.warn("codemeta {key} {text} states no size; ignored", key=key, text=text)
        else:
            sizes.append((mib, text))
    return sizes


def _apply_requirements(document: dict[str, Any], record: Requirements) -> None:
    """Several memory statements: the largest is needed. Several storage statements: they add up."""
    if memory := _sizes(document, "memoryRequirements", record):
        mib, text = max(memory)
        record.compute.memory_min_mib = Estimate.declared(mib, f"codemeta memoryRequirements: {text}", 0.8)
    if storage := _sizes(document, "storageRequirements", record):
        texts = "; ".join(text for _, text in storage)
        total = sum(mib for mib, _ in storage)
        record.disk_min_mib = Estimate.declared(total, f"codemeta storageRequirements: {texts}", 0.8)
    cores_found: list[tuple[int, str]] = []
    for text in _texts(document, "processorRequirements", record):
        cores = parse_cores(text)
        if cores is not None:
            cores_found.append((cores, text))
        if arch := parse_arch(text):
            record.compute.arch = arch
        if cores is None and arch is None:
            record.warn("codemeta processorRequirements {text} states no core count; ignored", text=text)
    if cores_found:
        cores, text = max(cores_found)
        record.compute.cores_min = Estimate.declared(cores, f"codemeta processorRequirements: {text}", 0.8)


def _apply_runtime(document: dict[str, Any], record: Requirements) -> None:
    languages = _texts(document, "programmingLanguage", record)
    platforms = _texts(document, "runtimePlatform", record)
    for text in platforms + languages:
        match = _LANGUAGE_VERSION.match(text)
        if match and record.runtime.language is None:
            record.runtime.language = match.group(1).lower() if match.group(1).lower() == "python" else match.group(1)
        if match and match.group(2) and record.runtime.language_version is None:
            record.runtime.language_version = match.group(2)
    for text in _texts(document, "softwareRequirements", record):
        word = text.split()[0] if text.split() else ""
        if word.startswith(("http://", "https://")):
            word = word.rstrip("/").rsplit("/", 1)[-1]
        name = requirement_name(word) or ""
        if name and name not in record.runtime.packages:
            record.runtime.packages.append(name)
    systems = _texts(document, "operatingSystem", record)
    if systems:
        record.runtime.operating_system = systems[0]


def _apply_identifiers(document: dict[str, Any], record: Requirements) -> None:
    repositories = _texts(document, "codeRepository", record)
    record.identifiers.code_repository = repositories[0] if repositories else None
    candidates = [document.get("@id")] + ([document["identifier"]] if "identifier" in document else [])
    for candidate in candidates:
        items = candidate if isinstance(candidate, list) else [candidate]
        for item in items:
            text = item.get("value") or item.get("@id") if isinstance(item, dict) else item
            if isinstance(text, str) and (match := _DOI.search(text)):
                record.identifiers.doi = match.group(1).rstrip(".,;")
                return


def codemeta_requirements(
    data: bytes, filename: str | None = None, limits: ParseLimits = DEFAULT_LIMITS
) -> Requirements:
    what = filename or "codemeta.json"
    check_size(data, what, limits)
    try:
        document = json.loads(decode_text(data, what))
    except json.JSONDecodeError as exc:
        raise InvalidExecutable(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(document, dict):
        raise InvalidExecutable(f"{what} is not a codemeta object")
    name = document.get("name")
    record = default_requirements(ExecutableKind.CODEMETA, name if isinstance(name, str) else None)
    record.source_files = [filename] if filename else []
    if not _context_ok(document):
        record.warn(
            "{file} has no codemeta @context (v2 {v2} or v3 {v3}); read it anyway",
            file=what,
            v2=CODEMETA_V2,
            v3=CODEMETA_V3,
        )
    _apply_requirements(document, record)
    _apply_runtime(document, record)
    _apply_identifiers(document, record)
    return record

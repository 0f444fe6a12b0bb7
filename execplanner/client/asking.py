"""What `execplanner ask` sends: a request document as it is, or one written for an executable (a notebook,
compose file, Snakefile, Dockerfile, repository directory or URL) the way `describe --request` writes it, with
the caller's `--cores`, `--memory`, `--duration`, `--start` and `--vo` laid over either."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import requests

from execplanner.errors import ClientError, InvalidRequest
from execplanner.executables.quantities import parse_duration_seconds, parse_size_mib
from execplanner.formats.media import Format
from execplanner.formats.tree import load_yaml, parse
from execplanner.model.documents import ComputeResource, Dialect, ExecutableKind, MinMax, OfferSetRequest

CONTENT_TYPES = {Format.JSON: "application/json", Format.YAML: "application/yaml", Format.XML: "application/xml"}
# a URL ending so is one file to fetch and read; any other URL is a repository to clone
SINGLE_FILE_SUFFIXES = (".ipynb", ".json", ".yaml", ".yml", ".xml", ".cwl", ".smk", ".def", ".py")
SINGLE_FILE_NAMES = ("Snakefile", "Dockerfile", "Containerfile", "codemeta.json")
MAX_DOWNLOAD_BYTES = 8 * 1024 * 1024
# kinds the service runs from a URL it fetches: a local file of one needs --location
FETCHED_KINDS = frozenset({ExecutableKind.JUPYTER_NOTEBOOK, ExecutableKind.DOCKER_COMPOSE})


@dataclass(frozen=True)
class Overrides:
    """What the caller said on the command line; None leaves the document's own value."""

    cores: int | None = None
    memory: str | None = None
    duration: str | None = None
    start: str | None = None
    vo: str | None = None

    def any(self) -> bool:
        return any(value is not None for value in vars(self).values())


@dataclass(frozen=True)
class Outgoing:
    body: bytes
    content_type: str


def _format_of(data: bytes) -> Format:
    head = data.lstrip()[:1]
    return Format.XML if head == b"<" else Format.JSON if head in (b"{", b"[") else Format.YAML


def _request_tree(data: bytes, fmt: Format) -> dict[str, Any] | None:
    """The document as a request tree if it is one (it names an `executable`), else None."""
    if fmt is Format.XML:
        return parse(data, fmt)
    try:
        tree = json.loads(data) if fmt is Format.JSON else load_yaml(data)
    except (ValueError, InvalidRequest):
        return None
    return tree if isinstance(tree, dict) and isinstance(tree.get("executable"), dict) else None


def _fetch(url: str) -> bytes:
    try:
        with requests.get(url, timeout=60, stream=True) as answer:
            answer.raise_for_status()
            data = answer.raw.read(MAX_DOWNLOAD_BYTES + 1, decode_content=True)
    except requests.RequestException as exc:
        from execplanner.client.broker import unreachable_reason

        raise ClientError(f"cannot fetch {url}: {unreachable_reason(exc, 60)}") from exc
    if len(data) > MAX_DOWNLOAD_BYTES:
        raise ClientError(f"{url} is larger than {MAX_DOWNLOAD_BYTES} bytes")
    return data


def _is_single_file_url(source: str) -> bool:
    name = PurePosixPath(urlsplit(source).path).name
    return name.endswith(SINGLE_FILE_SUFFIXES) or name in SINGLE_FILE_NAMES


def _read_source(source: str) -> tuple[bytes | None, str | None, str | None]:
    """(bytes, file name, location) of a single document; bytes None for a directory or repository URL."""
    if source == "-":
        return sys.stdin.buffer.read(), None, None
    if "://" in source:
        if _is_single_file_url(source):
            return _fetch(source), PurePosixPath(urlsplit(source).path).name, source
        return None, None, source
    path = Path(source)
    if path.is_dir():
        return None, None, None
    if not path.is_file():
        raise ClientError(f"{source}: no such file or directory")
    return path.read_bytes(), path.name, None


def _described(source: str, data: bytes | None, name: str | None, location: str | None) -> OfferSetRequest:
    from execplanner.executables import describe_bytes, describe_path
    from execplanner.executables.protocol import request_for

    if data is None:
        record = describe_path(source)
    elif name and Path(source).is_file():
        record = describe_path(source)  # reads sibling files too (a Snakefile's rules, a notebook's modules)
    else:
        record = describe_bytes(data, name)
    request = request_for(record, location=location, dialect=Dialect.CALYCOPIS_2026)
    if request.executable.kind in FETCHED_KINDS and not (request.executable.location or request.executable.repository):
        what = request.executable.kind.value
        raise ClientError(f"{source} is a {what}: give --location URL, where the service can fetch it from")
    return request


def outgoing(source: str, overrides: Overrides, location: str | None = None) -> Outgoing:
    """The body and content type to POST for SOURCE (a path, a URL or `-` for stdin)."""
    data, name, fetched_from = _read_source(source)
    location = location or fetched_from
    if data is not None and not data.strip():
        raise ClientError(f"{'standard input' if source == '-' else source} is empty")
    fmt = _format_of(data) if data is not None else Format.JSON
    tree = _request_tree(data, fmt) if data is not None else None
    if tree is not None and not overrides.any():
        return Outgoing(data or b"", CONTENT_TYPES[fmt])
    if tree is not None:
        from execplanner.formats.decode import read_offerset_request

        request = read_offerset_request(tree)
    else:
        request = _described(source, data, name, location)
    from execplanner.formats.encode import request_tree

    return Outgoing(json.dumps(request_tree(apply(request, overrides))).encode(), CONTENT_TYPES[Format.JSON])


def apply(request: OfferSetRequest, overrides: Overrides) -> OfferSetRequest:
    """The request with the caller's figures laid over it (a minimum: the service may offer more, up to a max
    the document sets, unless that max is now below the minimum)."""
    compute = request.compute[0] if request.compute else ComputeResource()
    if overrides.cores is not None:
        compute = compute.model_copy(update={"cores": _at_least(compute.cores, overrides.cores)})
    if overrides.memory is not None:
        compute = compute.model_copy(update={"memory": _at_least(compute.memory, memory_gib(overrides.memory))})
    schedule = request.schedule
    if overrides.duration is not None:
        schedule = schedule.model_copy(update={"duration_min": duration(overrides.duration), "duration_max": None})
    if overrides.start is not None:
        from execplanner.formats.iso8601 import parse_interval

        schedule = schedule.model_copy(update={"start": [parse_interval(overrides.start)]})
    return request.model_copy(
        update={
            "compute": [compute, *request.compute[1:]],
            "schedule": schedule,
            "vo": overrides.vo if overrides.vo is not None else request.vo,
        }
    )


def _at_least(bounds: MinMax, minimum: int) -> MinMax:
    keep_max = bounds.max if bounds.max is not None and bounds.max >= minimum else None
    return MinMax(min=minimum, max=keep_max)


def memory_gib(text: str) -> int:
    """`8`, `8G`, `8GiB`, `512MiB` → whole GiB (rounded up); a bare number is GiB."""
    mib = parse_size_mib(text.strip(), default_unit="g")
    if mib is None or mib <= 0:
        raise ClientError(f"--memory {text!r}: give a size such as 8, 8GiB or 512MiB")
    return -(-mib // 1024)


def duration(text: str) -> timedelta:
    """`PT2H`, `2h`, `90m`, `1d 2h`; a bare number is hours."""
    seconds = parse_duration_seconds(text, default_unit="h")
    if not seconds:
        raise ClientError(f"--duration {text!r}: give a duration such as PT2H, 2h or 90m")
    return timedelta(seconds=seconds)

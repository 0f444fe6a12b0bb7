"""Dockerfiles and Singularity/Apptainer definition files: the base image and exposed ports, read as text."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from execplanner.errors import InvalidExecutable
from execplanner.executables.defaults import default_requirements
from execplanner.executables.images import parse_image_reference
from execplanner.executables.limits import DEFAULT_LIMITS, ParseLimits, check_size, decode_text
from execplanner.executables.ports import add_port, guess_port
from execplanner.model.requirements import ContainerImage, ExecutableKind, Requirements

_FROM = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", re.IGNORECASE)
_EXPOSE = re.compile(r"^\s*EXPOSE\s+(.+)$", re.IGNORECASE)
_ARG = re.compile(r"^\s*ARG\s+(\w+)=(\S+)", re.IGNORECASE)


def _logical_lines(text: str) -> list[str]:
    return re.sub(r"\\\r?\n", " ", text).splitlines()


def dockerfile_base_image(text: str, record: Requirements) -> ContainerImage | None:
    """The image the final stage builds on; None if it is another stage or cannot be resolved."""
    args: dict[str, str] = {}
    stages: set[str] = set()
    base: str | None = None
    for line in _logical_lines(text):
        if arg := _ARG.match(line):
            args[arg.group(1)] = arg.group(2).strip("\"'")
        elif match := _FROM.match(line):
            base = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), match.group(1))
            if match.group(2):
                stages.add(match.group(2).lower())
        elif match := _EXPOSE.match(line):
            for spec in match.group(1).split():
                number, _, proto = spec.partition("/")
                if number.isdigit():
                    add_port(record.network.ports, guess_port(int(number), proto or "tcp", True))
    if base is None or base.lower() in stages or base == "scratch":
        return None
    if "$" in base:
        record.warn("Dockerfile base image {image} uses an unresolved build argument", image=base)
        return None
    return parse_image_reference(base)


def dockerfile_requirements(
    data: bytes, filename: str | None = None, limits: ParseLimits = DEFAULT_LIMITS
) -> Requirements:
    what = filename or "Dockerfile"
    check_size(data, what, limits)
    text = decode_text(data, what)
    record = default_requirements(ExecutableKind.DOCKER_CONTAINER, PurePosixPath(what).parent.name or None)
    record.source_files = [filename] if filename else []
    record.runtime.build = "dockerfile"
    record.runtime.needs_docker = True
    image = dockerfile_base_image(text, record)
    if image is None and not any(_FROM.match(line) for line in _logical_lines(text)):
        raise InvalidExecutable(f"{what} has no FROM instruction")
    if image is not None:
        record.runtime.images.append(image)
    record.interactive = bool(record.network.ports)
    return record


_BOOTSTRAP = re.compile(r"^\s*Bootstrap\s*:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
_SINGULARITY_FROM = re.compile(r"^\s*From\s*:\s*(\S+)", re.IGNORECASE | re.MULTILINE)


def singularity_requirements(
    data: bytes, filename: str | None = None, limits: ParseLimits = DEFAULT_LIMITS
) -> Requirements:
    what = filename or "definition file"
    check_size(data, what, limits)
    text = decode_text(data, what)
    bootstrap = _BOOTSTRAP.search(text)
    if bootstrap is None:
        raise InvalidExecutable(f"{what} is not a Singularity/Apptainer definition file (no Bootstrap: line)")
    record = default_requirements(ExecutableKind.SINGULARITY_CONTAINER, PurePosixPath(what).stem)
    record.source_files = [filename] if filename else []
    record.runtime.build = "singularity"
    source = _SINGULARITY_FROM.search(text)
    if bootstrap.group(1).lower() in ("docker", "oras", "shub", "library") and source:
        if bootstrap.group(1).lower() == "docker":
            record.runtime.images.append(parse_image_reference(source.group(1)))
        else:
            record.warn(
                "base {base} comes from {bootstrap}, not a Docker registry",
                base=source.group(1),
                bootstrap=bootstrap.group(1),
            )
    return record

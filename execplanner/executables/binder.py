"""Binder repositories, read the way repo2docker reads them: a `binder/` (or `.binder/`) directory overrides
the root; a Dockerfile wins over everything; then Project.toml (Julia), environment.yml (conda, which makes
requirements.txt ignored), requirements.txt (pip), install.R (R); apt.txt and postBuild add to any of them.
Jupyter serves on port 8888.
"""

from __future__ import annotations

import re
import tomllib

from execplanner.errors import InvalidExecutable
from execplanner.executables.condaenv import conda_packages, conda_python_version
from execplanner.executables.containerfile import dockerfile_base_image
from execplanner.executables.defaults import default_requirements
from execplanner.executables.images import parse_image_reference
from execplanner.executables.limits import decode_text
from execplanner.executables.packages import requirement_name
from execplanner.executables.workspace import Workspace
from execplanner.model.requirements import ExecutableKind, Requirements

CONFIG_FILES = (
    "Dockerfile",
    "environment.yml",
    "requirements.txt",
    "runtime.txt",
    "apt.txt",
    "postBuild",
    "install.R",
    "Project.toml",
    "REQUIRE",
    "setup.py",
    "start",
    "DESCRIPTION",
)
_R_INSTALL = re.compile(r"install\.packages\(\s*(c\([^)]*\)|[\"'][^\"']+[\"'])")
_R_GITHUB = re.compile(r"install_github\(\s*[\"'][\w.-]+/([\w.-]+)")
_QUOTED = re.compile(r"[\"']([^\"']+)[\"']")
_PULL = re.compile(
    r"\b(?:udocker|docker|podman)\s+pull\s+(?:-\S+\s+)*([\w./:@-]+)|\b(?:singularity|apptainer)\s+"
    r"(?:pull|build)\s+(?:\S+\s+)?docker://([\w./:@-]+)"
)
_PIP_LINE = re.compile(r"\bpip3?\s+install\s+([^\n;&|]+)")


def config_directory(workspace: Workspace, path: str = "") -> str:
    """The directory repo2docker reads configuration from: binder/, .binder/ or the repository itself."""
    assert workspace.root is not None
    for candidate in ("binder", ".binder"):
        if (workspace.root / path / candidate).is_dir():
            return workspace.relative_name(candidate, path)
    return path


def has_binder_configuration(workspace: Workspace, path: str = "") -> bool:
    """A binder/ directory or an environment file; a lone Dockerfile makes a container, not a Binder repo."""
    directory = config_directory(workspace, path)
    if directory != path:
        return True
    return any(workspace.resolve(name, directory) for name in CONFIG_FILES[1:9])


def _text(workspace: Workspace, name: str, directory: str, record: Requirements) -> str | None:
    data = workspace.read(name, directory)
    if data is None:
        return None
    relative = workspace.relative_name(name, directory)
    record.source_files.append(relative)
    return decode_text(data, relative)


def _lines(text: str) -> list[str]:
    return [line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()]


def _runtime_txt(text: str, record: Requirements) -> None:
    value = text.strip().splitlines()[0] if text.strip() else ""
    if match := re.match(r"^python-([\d.]+)", value):
        record.runtime.language, record.runtime.language_version = "python", match.group(1)
    elif match := re.match(r"^r-(?:([\d.]+)-)?(\d{4}-\d{2}-\d{2})", value):
        record.runtime.language, record.runtime.language_version = "R", match.group(1)
        record.runtime.build = "r"


def _environment(workspace: Workspace, directory: str, record: Requirements) -> None:
    """repo2docker's precedence: a Dockerfile alone; else Julia, then conda or pip, then R, each if present."""
    if (text := _text(workspace, "Dockerfile", directory, record)) is not None:
        record.runtime.build = "dockerfile"
        if image := dockerfile_base_image(text, record):
            record.runtime.images.append(image)
        return
    _julia(workspace, directory, record)
    _python(workspace, directory, record)
    _r(workspace, directory, record)


def _julia(workspace: Workspace, directory: str, record: Requirements) -> None:
    if (text := _text(workspace, "Project.toml", directory, record)) is not None:
        record.runtime.build, record.runtime.language = "julia", "julia"
        try:
            record.runtime.packages += list((tomllib.loads(text).get("deps") or {}).keys())
        except tomllib.TOMLDecodeError:
            record.warn("binder Project.toml is not valid TOML; packages unknown")


def _python(workspace: Workspace, directory: str, record: Requirements) -> None:
    if (text := _text(workspace, "environment.yml", directory, record)) is not None:
        name = workspace.relative_name("environment.yml", directory)
        record.runtime.build = record.runtime.build or "conda"
        record.runtime.conda_environments.append(name)
        record.runtime.packages += conda_packages(text.encode(), name, workspace.limits, record)
        record.runtime.language_version = conda_python_version(text.encode(), name, workspace.limits)
    elif (text := _text(workspace, "requirements.txt", directory, record)) is not None:
        record.runtime.build = record.runtime.build or "pip"
        record.runtime.packages += [n for n in (requirement_name(line) for line in _lines(text)) if n]


def _r(workspace: Workspace, directory: str, record: Requirements) -> None:
    if (text := _text(workspace, "install.R", directory, record)) is not None:
        record.runtime.build = record.runtime.build or "r"
        record.runtime.language = "R" if record.runtime.build == "r" else record.runtime.language
        for match in _R_INSTALL.findall(text):
            record.runtime.packages += _QUOTED.findall(match)
        record.runtime.packages += _R_GITHUB.findall(text)


def _post_build(text: str, record: Requirements) -> None:
    """postBuild is a script we never run; we only read what it obviously fetches."""
    record.runtime.post_build = True
    record.runtime.needs_docker = bool(re.search(r"(?<![\w])(?:docker|podman)\s+(?:pull|run)\b", text))
    for docker_image, singularity_image in _PULL.findall(text):
        image = parse_image_reference(docker_image or singularity_image)
        if image.reference not in {known.reference for known in record.runtime.images}:
            record.runtime.images.append(image)
    for arguments in _PIP_LINE.findall(text):
        for word in arguments.split():
            name = requirement_name(word)
            if name and name not in record.runtime.packages:
                record.runtime.packages.append(name)
    record.warn("binder postBuild runs arbitrary commands; its time, disk and memory use are not estimated")


def binder_requirements(workspace: Workspace, path: str = "") -> Requirements:
    """Requirements of the Binder environment of the repository in `workspace` (at sub-directory `path`)."""
    if workspace.root is None or not (workspace.root / path).is_dir():
        raise InvalidExecutable(f"binder repository path {path or '.'} is not a directory")
    record = default_requirements(ExecutableKind.BINDER_REPOSITORY, workspace.root.name)
    record.runtime.language = "python"
    directory = config_directory(workspace, path)
    _environment(workspace, directory, record)
    if (text := _text(workspace, "runtime.txt", directory, record)) is not None:
        _runtime_txt(text, record)
    if (text := _text(workspace, "apt.txt", directory, record)) is not None:
        record.runtime.apt_packages = _lines(text)
    if (text := _text(workspace, "postBuild", directory, record)) is not None:
        _post_build(text, record)
    if record.runtime.build is None:
        record.runtime.build = "pip"
        record.warn("no Binder configuration files found; repo2docker would build its default Python environment")
    record.runtime.packages = list(dict.fromkeys(record.runtime.packages))
    return record

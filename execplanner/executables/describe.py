"""The entry points: a path, a URL, uploaded bytes, or a protocol docker-container executable → Requirements."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

from execplanner.errors import InvalidExecutable
from execplanner.executables.codemeta import codemeta_requirements
from execplanner.executables.compose import compose_requirements
from execplanner.executables.containerfile import dockerfile_requirements, singularity_requirements
from execplanner.executables.cwl import cwl_requirements
from execplanner.executables.defaults import default_requirements
from execplanner.executables.detect import DocumentKind, detect_document
from execplanner.executables.gitclone import clone_repository, is_repository_url, redacted
from execplanner.executables.images import image_from_locations
from execplanner.executables.limits import DEFAULT_LIMITS, ParseLimits, check_size
from execplanner.executables.notebook import notebook_requirements, python_script_requirements, reject_lfs_pointer
from execplanner.executables.repository import describe_directory
from execplanner.executables.snakemake import snakemake_requirements
from execplanner.executables.workspace import Workspace
from execplanner.model.requirements import Estimate, ExecutableKind, Port, Requirements

_Parser = Callable[[bytes, str | None, ParseLimits], Requirements]


def _snakefile(data: bytes, filename: str | None, limits: ParseLimits) -> Requirements:
    record = snakemake_requirements(filename or "Snakefile", Workspace(None, limits), data)
    return record


_PARSERS: dict[DocumentKind, _Parser] = {
    DocumentKind.NOTEBOOK: lambda data, name, limits: notebook_requirements(data, name, limits),
    DocumentKind.PYTHON_SCRIPT: python_script_requirements,
    DocumentKind.COMPOSE: compose_requirements,
    DocumentKind.SNAKEFILE: _snakefile,
    DocumentKind.CWL: cwl_requirements,
    DocumentKind.CODEMETA: codemeta_requirements,
    DocumentKind.DOCKERFILE: dockerfile_requirements,
    DocumentKind.SINGULARITY_DEFINITION: singularity_requirements,
}
_KIND_DOCUMENTS: dict[ExecutableKind, DocumentKind] = {
    ExecutableKind.JUPYTER_NOTEBOOK: DocumentKind.NOTEBOOK,
    ExecutableKind.DOCKER_COMPOSE: DocumentKind.COMPOSE,
    ExecutableKind.SNAKEMAKE_WORKFLOW: DocumentKind.SNAKEFILE,
    ExecutableKind.CWL_TOOL: DocumentKind.CWL,
    ExecutableKind.CODEMETA: DocumentKind.CODEMETA,
    ExecutableKind.SINGULARITY_CONTAINER: DocumentKind.SINGULARITY_DEFINITION,
    ExecutableKind.DOCKER_CONTAINER: DocumentKind.DOCKERFILE,
}


def executable_kind(text: str) -> ExecutableKind | None:
    """The kind named by a plain name ("docker-compose") or a type URI (".../executable/docker-compose-1.0",
    "uri://jupyter-notebook")."""
    last = re.sub(r"-\d+(?:\.\d+)*$", "", text.rstrip("/").rsplit("/", 1)[-1])
    aliases = {
        "binder-notebook": "binder-repository",
        "esap-notebook": "jupyter-notebook",
        "compose": "docker-compose",
        "snakemake": "snakemake-workflow",
        "cwl": "cwl-tool",
        "notebook": "jupyter-notebook",
    }
    last = aliases.get(last, last)
    try:
        return ExecutableKind(last)
    except ValueError:
        return None


def describe_bytes(
    data: bytes, filename: str | None = None, kind: str | None = None, limits: ParseLimits = DEFAULT_LIMITS
) -> Requirements:
    """Requirements of one uploaded document (e.g. the `taskinfo.notebook` part); `kind` (a kind name or type
    URI) overrides detection."""
    what = filename or "uploaded document"
    reject_lfs_pointer(data, what)
    check_size(data, what, limits)
    document: DocumentKind | None = None
    if kind is not None:
        named = executable_kind(kind)
        if named is None:
            raise InvalidExecutable(f"executable kind {kind!r} is not one we understand")
        if named not in _KIND_DOCUMENTS:
            raise InvalidExecutable(f"a {named.value} is described by a repository, not by one uploaded document")
        document = _KIND_DOCUMENTS[named]
        detected = detect_document(data, filename)
        if document == DocumentKind.NOTEBOOK and detected == DocumentKind.PYTHON_SCRIPT:
            document = detected
    else:
        document = detect_document(data, filename)
    if document is None or document == DocumentKind.LFS_POINTER:
        raise InvalidExecutable(
            f"cannot tell what {what} is: not a notebook, compose file, Snakefile, CWL tool, codemeta.json, "
            "Dockerfile or Singularity definition"
        )
    try:
        return _PARSERS[document](data, filename, limits)
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, RecursionError) as exc:
        # a shape no parser rule foresaw: still the user's document at fault, still a clear error
        raise InvalidExecutable(f"{what} has a structure we cannot read ({type(exc).__name__}: {exc})"[:400]) from exc


def describe_path(path: str | Path, ref: str | None = None, limits: ParseLimits = DEFAULT_LIMITS) -> Requirements:
    """Requirements of a file, a directory (a repository checkout) or a git repository URL (cloned shallowly)."""
    text = str(path)
    if isinstance(path, str) and is_repository_url(text):
        return describe_repository_url(text, ref, limits)
    location = Path(path)
    if location.is_dir():
        return describe_directory(location, Workspace(location, limits))
    if not location.is_file():
        raise InvalidExecutable(f"{location} does not exist")
    size = location.stat().st_size
    if size > limits.max_document_bytes:
        raise InvalidExecutable(f"{location.name} is {size} bytes, more than the {limits.max_document_bytes} we read")
    data = location.read_bytes()
    document = detect_document(data, location.name)
    if document == DocumentKind.SNAKEFILE:
        return snakemake_requirements(location.name, Workspace(location.parent, limits))
    if document == DocumentKind.NOTEBOOK:
        local_modules = {sibling.stem for sibling in location.parent.glob("*.py")}
        return notebook_requirements(data, location.name, limits, local_modules)
    return describe_bytes(data, location.name, limits=limits)


def describe_repository_url(url: str, ref: str | None = None, limits: ParseLimits = DEFAULT_LIMITS) -> Requirements:
    with tempfile.TemporaryDirectory(prefix="execplanner-clone-") as scratch:
        checkout = clone_repository(url, Path(scratch), ref, limits)
        record = describe_directory(checkout, Workspace(checkout, limits))
    record.name = record.name if record.name != "checkout" else _repository_name(url)
    record.identifiers.code_repository = record.identifiers.code_repository or redacted(url)
    return record


def _repository_name(url: str) -> str:
    return re.sub(r"\.git$", "", url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1])


def image_requirements(
    locations: list[str], digest: str | None = None, ports: list[Port] | None = None, interactive: bool | None = None
) -> Requirements:
    """Requirements of a protocol docker-container executable: its image (at several locations) and ports."""
    image = image_from_locations(locations, digest)
    record = default_requirements(ExecutableKind.DOCKER_CONTAINER, image.name)
    record.runtime.images = [image]
    record.runtime.build = "image"
    record.runtime.needs_docker = True
    record.network.ports = list(ports or [])
    record.interactive = any(port.public for port in record.network.ports) if interactive is None else interactive
    record.disk_min_mib = Estimate.default(record.disk_min_mib.value, "default disk; image size unknown until pulled")
    return record

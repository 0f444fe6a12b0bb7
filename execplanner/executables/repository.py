"""A repository inspected as a whole: every file classified by name and content, one primary description
chosen (Snakemake > compose > CWL > Binder/notebooks > Dockerfile > Singularity > codemeta alone), then
enriched by the notebooks it holds and by its codemeta.json.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from execplanner.errors import InvalidExecutable
from execplanner.executables.binder import binder_requirements, has_binder_configuration
from execplanner.executables.codemeta import codemeta_requirements
from execplanner.executables.compose import compose_requirements
from execplanner.executables.containerfile import dockerfile_requirements, singularity_requirements
from execplanner.executables.cwl import cwl_requirements
from execplanner.executables.detect import DocumentKind, detect_document
from execplanner.executables.merge import enrich
from execplanner.executables.notebook import notebook_requirements
from execplanner.executables.snakemake import snakemake_requirements
from execplanner.executables.workspace import Workspace
from execplanner.model.requirements import Requirements

_SKIPPED_DIRECTORIES = {
    ".git",
    "node_modules",
    ".ipynb_checkpoints",
    "__pycache__",
    ".snakemake",
    ".venv",
    "venv",
    ".tox",
    ".mypy_cache",
    ".pytest_cache",
}
_SNIFFED_SUFFIXES = {"", ".json", ".yml", ".yaml", ".cwl", ".smk", ".ipynb", ".def", ".txt", ".rules", ".py"}
_MAIN_SNAKEFILES = ("Snakefile", "workflow/Snakefile", "snakefile", "workflow/snakefile")


@dataclass
class Inventory:
    """The repository's files by what they are (repository-relative POSIX names)."""

    files: dict[DocumentKind, list[str]] = field(default_factory=dict)
    python_modules: set[str] = field(default_factory=set)
    skipped_lfs: list[str] = field(default_factory=list)

    def of(self, kind: DocumentKind) -> list[str]:
        return self.files.get(kind, [])


def _walk(root: Path, max_depth: int) -> list[Path]:
    found: list[Path] = []
    pending = [(root, 0)]
    while pending:
        directory, depth = pending.pop()
        for entry in sorted(directory.iterdir()):
            if entry.is_symlink():
                continue
            if entry.is_dir() and entry.name not in _SKIPPED_DIRECTORIES and depth < max_depth:
                pending.append((entry, depth + 1))
            elif entry.is_file():
                found.append(entry)
    return sorted(found, key=lambda path: (len(path.relative_to(root).parts), str(path)))


def take_inventory(workspace: Workspace) -> Inventory:
    assert workspace.root is not None
    inventory = Inventory()
    files = _walk(workspace.root, workspace.limits.max_scan_depth)
    if len(files) > workspace.limits.max_repository_files:
        raise InvalidExecutable(f"repository has more than {workspace.limits.max_repository_files} files")
    for path in files:
        name = path.relative_to(workspace.root).as_posix()
        if path.suffix == ".py":
            inventory.python_modules.add(path.stem)
        if path.suffix.lower() not in _SNIFFED_SUFFIXES or path.stat().st_size > workspace.limits.max_document_bytes:
            continue
        kind = detect_document(path.read_bytes(), path.name)
        if kind == DocumentKind.LFS_POINTER:
            inventory.skipped_lfs.append(name)
        elif kind is not None:
            inventory.files.setdefault(kind, []).append(name)
    for directory in workspace.root.iterdir():
        if directory.is_dir() and (directory / "__init__.py").is_file():
            inventory.python_modules.add(directory.name)
    return inventory


def _main_snakefile(inventory: Inventory) -> str | None:
    snakefiles = inventory.of(DocumentKind.SNAKEFILE)
    for candidate in _MAIN_SNAKEFILES:
        if candidate in snakefiles:
            return candidate
    named = [name for name in snakefiles if name.rsplit("/", 1)[-1].lower() == "snakefile"]
    return named[0] if named else (snakefiles[0] if snakefiles else None)


def _read(workspace: Workspace, name: str) -> bytes:
    data = workspace.read(name)
    if data is None:
        raise InvalidExecutable(f"{name} cannot be read")
    return data


def _primary(workspace: Workspace, inventory: Inventory) -> Requirements | None:
    limits = workspace.limits
    if snakefile := _main_snakefile(inventory):
        return snakemake_requirements(snakefile, workspace)
    if compose := inventory.of(DocumentKind.COMPOSE):
        return compose_requirements(_read(workspace, compose[0]), compose[0], limits)
    if cwl := inventory.of(DocumentKind.CWL):
        return cwl_requirements(_read(workspace, cwl[0]), cwl[0], limits)
    if has_binder_configuration(workspace) or inventory.of(DocumentKind.NOTEBOOK):
        return binder_requirements(workspace)
    if dockerfiles := inventory.of(DocumentKind.DOCKERFILE):
        return dockerfile_requirements(_read(workspace, dockerfiles[0]), dockerfiles[0], limits)
    if definitions := inventory.of(DocumentKind.SINGULARITY_DEFINITION):
        return singularity_requirements(_read(workspace, definitions[0]), definitions[0], limits)
    return None


def _with_notebooks(record: Requirements, workspace: Workspace, inventory: Inventory) -> Requirements:
    for name in inventory.of(DocumentKind.NOTEBOOK):
        try:
            notebook = notebook_requirements(_read(workspace, name), name, workspace.limits, inventory.python_modules)
        except InvalidExecutable as exc:
            record.warn("notebook {file} skipped: {reason}", file=name, reason=exc.message)
            continue
        notebook.name = None
        notebook.network.ports = []  # the Binder record already says how Jupyter is reached
        record = enrich(record, notebook)
    return record


def describe_directory(root: Path, workspace: Workspace) -> Requirements:
    """Requirements of the repository checked out at `root`."""
    if not root.is_dir():
        raise InvalidExecutable(f"{root} is not a directory")
    inventory = take_inventory(workspace)
    record = _primary(workspace, inventory)
    codemeta = inventory.of(DocumentKind.CODEMETA)
    if record is None and not codemeta:
        raise InvalidExecutable(
            f"no executable description found in {root.name}: no notebook, Snakefile, compose file, CWL tool, "
            "Dockerfile, Binder configuration or codemeta.json"
        )
    if record is not None and record.kind.value == "binder-repository":
        record = _with_notebooks(record, workspace, inventory)
    for name in codemeta[:1]:
        metadata = codemeta_requirements(_read(workspace, name), name, workspace.limits)
        record = metadata if record is None else enrich(record, metadata)
    assert record is not None
    record.name = record.name or root.name
    for name in inventory.skipped_lfs:
        record.warn("{file} is a Git LFS pointer; its content was not inspected", file=name)
    return record

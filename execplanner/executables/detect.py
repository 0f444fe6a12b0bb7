"""What a file is, by name and by content: repositories use non-standard names, uploads have none.

Detection only looks; it never parses deeply or raises. The parsers report what is wrong with a file.
"""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import PurePosixPath


class DocumentKind(StrEnum):
    NOTEBOOK = "notebook"
    PYTHON_SCRIPT = "python-script"
    COMPOSE = "compose"
    SNAKEFILE = "snakefile"
    CWL = "cwl"
    CODEMETA = "codemeta"
    DOCKERFILE = "dockerfile"
    SINGULARITY_DEFINITION = "singularity-definition"
    LFS_POINTER = "git-lfs-pointer"


LFS_POINTER_PREFIX = b"version https://git-lfs.github.com/spec/"
_SNAKE_RULE = re.compile(r"^\s*(?:rule|checkpoint)\s+\w+\s*:", re.MULTILINE)
_SNAKE_DIRECTIVE = re.compile(r"^(?:configfile|include|workdir|wildcard_constraints)\s*:", re.MULTILINE)
_COMPOSE_SERVICES = re.compile(r"^services\s*:\s*(?:#.*)?$", re.MULTILINE)
_CWL_VERSION = re.compile(r"^\s*[\"']?cwlVersion[\"']?\s*:", re.MULTILINE)
_DOCKERFILE_FROM = re.compile(r"^\s*FROM\s+\S+", re.IGNORECASE | re.MULTILINE)
_SINGULARITY = re.compile(r"^\s*Bootstrap\s*:\s*\S+", re.IGNORECASE | re.MULTILINE)
_PERCENT_CELL = re.compile(r"^# %%|^# In\[|^\s*#\s*jupytext:|^# ---\s*$", re.MULTILINE)


def is_lfs_pointer(data: bytes) -> bool:
    return data.lstrip().startswith(LFS_POINTER_PREFIX)


def _by_name(name: str) -> DocumentKind | None:
    path = PurePosixPath(name)
    lower = path.name.lower()
    if lower.endswith(".ipynb"):
        return DocumentKind.NOTEBOOK
    if lower == "snakefile" or lower.endswith(".smk") or lower.endswith(".snakefile"):
        return DocumentKind.SNAKEFILE
    if lower.endswith(".cwl"):
        return DocumentKind.CWL
    if lower == "codemeta.json":
        return DocumentKind.CODEMETA
    if lower in ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml"):
        return DocumentKind.COMPOSE
    if lower == "dockerfile" or lower.startswith("dockerfile.") or lower.endswith(".dockerfile"):
        return DocumentKind.DOCKERFILE
    if lower in ("singularity", "apptainer") or lower.endswith((".def", ".singularity")):
        return DocumentKind.SINGULARITY_DEFINITION
    return None


def _json_kind(text: str) -> DocumentKind | None:
    try:
        document = json.loads(text)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    if "nbformat" in document and ("cells" in document or "worksheets" in document):
        return DocumentKind.NOTEBOOK
    if "cwlVersion" in document:
        return DocumentKind.CWL
    context = json.dumps(document.get("@context", ""))
    if "codemeta" in context or document.get("@type") == "SoftwareSourceCode":
        return DocumentKind.CODEMETA
    return None


def _by_content(text: str) -> DocumentKind | None:
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        return _json_kind(stripped)
    if _CWL_VERSION.search(text):
        return DocumentKind.CWL
    if _COMPOSE_SERVICES.search(text):
        return DocumentKind.COMPOSE
    if _SNAKE_RULE.search(text) or _SNAKE_DIRECTIVE.search(text):
        return DocumentKind.SNAKEFILE
    if _SINGULARITY.search(text[:2000]):
        return DocumentKind.SINGULARITY_DEFINITION
    first_instruction = next(
        (line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")), ""
    )
    if _DOCKERFILE_FROM.match(first_instruction) or first_instruction.upper().startswith("ARG "):
        return DocumentKind.DOCKERFILE if _DOCKERFILE_FROM.search(text) else None
    return None


def detect_document(data: bytes, filename: str | None = None) -> DocumentKind | None:
    """Best guess at what `data` is; content wins for JSON/YAML so a mis-named notebook is still a notebook."""
    if is_lfs_pointer(data):
        return DocumentKind.LFS_POINTER
    head = data if data.lstrip()[:1] in (b"{", b"[") else data[:1_000_000]
    text = head.decode("utf-8", errors="replace")
    named = _by_name(filename) if filename else None
    if named in (DocumentKind.NOTEBOOK, DocumentKind.SNAKEFILE, DocumentKind.DOCKERFILE, DocumentKind.CODEMETA):
        return named
    if filename and filename.lower().endswith(".py"):
        return DocumentKind.PYTHON_SCRIPT if _PERCENT_CELL.search(text) else None
    return _by_content(text) or named

"""Jupyter notebooks (v4, and v3 converted by nbformat): kernel, language, packages imported, GPU use.

Metadata is often stripped before commit, so the language falls back to what the code parses as.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import PurePosixPath
from typing import Any

from execplanner.errors import InvalidExecutable
from execplanner.executables.defaults import default_requirements
from execplanner.executables.detect import is_lfs_pointer
from execplanner.executables.limits import DEFAULT_LIMITS, ParseLimits, check_size, decode_text
from execplanner.executables.packages import distributions_for, normalised
from execplanner.executables.python_source import PythonAnalysis, analyse_python
from execplanner.model.requirements import DataInput, Estimate, ExecutableKind, Gpu, Requirements

_R_LIBRARY = re.compile(r"\b(?:library|require|requireNamespace)\(\s*[\"']?([A-Za-z][\w.]*)")
_JULIA_USING = re.compile(r"^\s*(?:using|import)\s+([A-Z]\w*(?:\s*,\s*[A-Z]\w*)*)", re.MULTILINE)


def reject_lfs_pointer(data: bytes, what: str) -> None:
    if is_lfs_pointer(data):
        raise InvalidExecutable(
            f"{what} is a Git LFS pointer, not the file itself; fetch it with `git lfs pull` and upload the content"
        )


def _load_json(text: str, what: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidExecutable(f"{what} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    if not isinstance(document, dict) or "nbformat" not in document:
        raise InvalidExecutable(f"{what} is JSON but not a Jupyter notebook (no nbformat field)")
    version = document["nbformat"]
    if not isinstance(version, int) or version not in (3, 4):
        raise InvalidExecutable(f"{what} has nbformat {version!r}; notebook formats 3 and 4 are supported")
    return document


def _read_notebook(text: str, what: str, record: Requirements) -> Any:
    import nbformat

    _load_json(text, what)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            notebook = nbformat.reads(text, as_version=4)
        except Exception as exc:  # nbformat raises many kinds for malformed structure
            raise InvalidExecutable(f"{what} is not a readable notebook: {str(exc).splitlines()[0][:200]}") from exc
    if any("invalid" in str(w.message).lower() for w in caught):
        record.warn("notebook {file} does not validate against the nbformat schema; read it anyway", file=what)
    return notebook


def _cell_sources(notebook: Any) -> list[str]:
    sources: list[str] = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            sources.append("".join(source) if isinstance(source, list) else str(source))
    return sources


def _language(notebook: Any) -> tuple[str | None, str | None, str | None]:
    metadata = notebook.get("metadata", {}) or {}
    kernelspec = metadata.get("kernelspec", {}) or {}
    info = metadata.get("language_info", {}) or {}
    kernel = kernelspec.get("name")
    language = info.get("name") or kernelspec.get("language")
    version = info.get("version")
    if language is None and isinstance(kernel, str):
        language = {"ir": "R"}.get(kernel) or ("python" if kernel.startswith("python") else None)
        language = language or ("julia" if kernel.startswith("julia") else None)
    if version is None and isinstance(kernel, str) and re.fullmatch(r"python\d", kernel):
        version = kernel[-1]
    return kernel, language, (str(version) if version is not None else None)


def _apply_python(record: Requirements, analysis: PythonAnalysis, local_modules: set[str]) -> None:
    packages = distributions_for(analysis.imports, local_modules)
    known = {normalised(name) for name in packages}
    for name in analysis.pip_installs:
        if normalised(name) not in known:
            packages.append(name)
            known.add(normalised(name))
    record.runtime.packages = packages
    record.data = [DataInput(url=url) for url in analysis.urls]
    if analysis.gpu_evidence:
        record.compute.gpu = Gpu(
            count=Estimate.derived(1, "GPU use in code: " + ", ".join(analysis.gpu_evidence[:5])), vendor="nvidia"
        )
    if analysis.unparsable_cells:
        record.warn(
            "{count} code cell(s) of {file} are not valid Python 3; imports read line by line",
            count=analysis.unparsable_cells,
            file=record.name or "the notebook",
        )


def _apply_other_language(record: Requirements, language: str, sources: list[str]) -> None:
    text = "\n".join(sources)
    if language.lower() == "r":
        found = _R_LIBRARY.findall(text)
    elif language.lower() == "julia":
        found = [name.strip() for match in _JULIA_USING.findall(text) for name in match.split(",")]
    else:
        found = []
    record.runtime.packages = list(dict.fromkeys(found))


def notebook_requirements(
    data: bytes,
    filename: str | None = None,
    limits: ParseLimits = DEFAULT_LIMITS,
    local_modules: set[str] | None = None,
) -> Requirements:
    """Requirements of one notebook; `local_modules` are importable files beside it (not packages to install)."""
    what = filename or "notebook"
    reject_lfs_pointer(data, what)
    check_size(data, what, limits)
    text = decode_text(data, what)
    name = PurePosixPath(filename).stem if filename else None
    record = default_requirements(ExecutableKind.JUPYTER_NOTEBOOK, name)
    notebook = _read_notebook(text, what, record)
    record.source_files = [filename] if filename else []
    sources = _cell_sources(notebook)
    kernel, language, version = _language(notebook)
    if language is None:
        record.warn("notebook {file} has no kernelspec or language_info; assuming Python", file=what)
        language = "python"
    record.runtime.kernel = kernel
    record.runtime.language = language
    record.runtime.language_version = version
    record.runtime.build = {"python": "pip", "r": "r", "julia": "julia"}.get(language.lower())
    if language.lower() == "python":
        _apply_python(record, analyse_python(sources), local_modules or set())
    else:
        _apply_other_language(record, language, sources)
    return record


def python_script_requirements(
    data: bytes, filename: str | None = None, limits: ParseLimits = DEFAULT_LIMITS
) -> Requirements:
    """A notebook saved as a .py script (jupytext percent format): read as Python source, with a WARN."""
    what = filename or "script"
    reject_lfs_pointer(data, what)
    check_size(data, what, limits)
    text = decode_text(data, what)
    record = default_requirements(ExecutableKind.JUPYTER_NOTEBOOK, PurePosixPath(what).stem)
    record.source_files = [filename] if filename else []
    record.warn(
        "{file} is a Python script (jupytext/percent format), not a .ipynb notebook; read it as Python source",
        file=what,
    )
    cells = re.split(r"^# %%.*$", text, flags=re.MULTILINE)
    cells = [re.sub(r"^# ?([%!].*)$", r"\1", cell, flags=re.MULTILINE) for cell in cells]
    record.runtime.language = "python"
    record.runtime.build = "pip"
    _apply_python(record, analyse_python(cells), set())
    return record

"""What Python code needs, read with `ast` and never run: imports, `%pip install` lines, GPU use, URLs."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from execplanner.executables.packages import requirement_name

_GPU_PATTERNS = [
    re.compile(r"\btorch\.cuda\b"),
    re.compile(r"\.cuda\(\s*\)"),
    re.compile(r"""device\s*=\s*["']cuda"""),
    re.compile(r"""torch\.device\(\s*["']cuda"""),
    re.compile(r"""list_physical_devices\(\s*["']GPU["']"""),
    re.compile(r"""tf\.device\(\s*["']/?(?:device:)?GPU""", re.IGNORECASE),
    re.compile(r"\bnumba\.cuda\b|\bfrom numba import cuda\b"),
    re.compile(r"tensorflow-gpu|jax\[cuda"),
]
_GPU_MODULES = {"cupy", "pycuda", "cudf", "cuml", "rapids", "tensorrt"}
_URL = re.compile(r"""["']((?:https?|s3|ftp)://[^"'\s]+)["']""")
_PIP_INSTALL = re.compile(r"^\s*[!%]+\s*(?:python\s+-m\s+)?(?:pip|conda|mamba)\s+install\s+(.*)$")


@dataclass
class PythonAnalysis:
    imports: list[str] = field(default_factory=list)
    pip_installs: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    gpu_evidence: list[str] = field(default_factory=list)
    unparsable_cells: int = 0


def _strip_magics(cell: str, analysis: PythonAnalysis) -> str | None:
    """Source without IPython magics and shell escapes; None for whole-cell magics (%%bash...)."""
    if cell.lstrip().startswith("%%"):
        return None
    kept: list[str] = []
    for line in cell.splitlines():
        stripped = line.lstrip()
        if stripped.startswith(("%", "!")) or stripped.endswith("?") and not stripped.startswith("#"):
            _record_install(line, analysis)
            kept.append("")  # keep line numbers
        else:
            kept.append(line)
    return "\n".join(kept)


def _record_install(line: str, analysis: PythonAnalysis) -> None:
    match = _PIP_INSTALL.match(line)
    if not match:
        return
    for word in match.group(1).split():
        name = requirement_name(word)
        if name and name not in analysis.pip_installs:
            analysis.pip_installs.append(name)


def _imports_of(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


_IMPORT_LINE = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import|import\s+([\w.]+(?:\s*,\s*[\w.]+)*))")


def _imports_by_line(source: str) -> list[str]:
    """Fallback for cells `ast` cannot parse (Python 2, half-written code): plain import lines."""
    names: list[str] = []
    for line in source.splitlines():
        match = _IMPORT_LINE.match(line)
        if match and match.group(1):
            names.append(match.group(1))
        elif match and match.group(2):
            names.extend(part.strip() for part in match.group(2).split(","))
    return names


def analyse_python(cells: list[str]) -> PythonAnalysis:
    analysis = PythonAnalysis()
    for cell in cells:
        source = _strip_magics(cell, analysis)
        if source is None:
            continue
        try:
            found = _imports_of(ast.parse(source))
        except (SyntaxError, ValueError):
            analysis.unparsable_cells += 1
            found = _imports_by_line(source)
        for name in found:
            if name not in analysis.imports:
                analysis.imports.append(name)
        for url in _URL.findall(source):
            if url not in analysis.urls:
                analysis.urls.append(url)
        for pattern in _GPU_PATTERNS:
            hit = pattern.search(source)
            if hit and hit.group(0) not in analysis.gpu_evidence:
                analysis.gpu_evidence.append(hit.group(0))
    for name in analysis.imports + analysis.pip_installs:
        if name.split(".")[0] in _GPU_MODULES and name not in analysis.gpu_evidence:
            analysis.gpu_evidence.append(name)
    return analysis

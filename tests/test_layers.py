"""The layering the capacity work relies on: the planner is pure, formats do not reach up into it, and the API
books through `booking/` rather than writing SQL itself."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "execplanner"


def imported(package: str) -> set[str]:
    """Every execplanner package that modules of `package` import (at any depth of the module)."""
    found: set[str] = set()
    for path in (PACKAGE / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("execplanner."):
                found.add(node.module.split(".")[1])
            elif isinstance(node, ast.Import):
                found |= {a.name.split(".")[1] for a in node.names if a.name.startswith("execplanner.")}
    return found - {package}


def imported_modules(package: str) -> set[str]:
    found: set[str] = set()
    for path in (PACKAGE / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
    return found


def test_the_planner_imports_only_the_model_and_the_catalogue():
    assert imported("planner") <= {"model", "catalogue"}


@pytest.mark.parametrize("package", ["formats", "model", "store"])
def test_lower_layers_never_import_the_planner_or_booking(package):
    assert not imported(package) & {"planner", "booking", "lifecycle", "api"}


def test_the_api_never_touches_the_store_directly():
    modules = imported_modules("api")
    assert not {m for m in modules if m.startswith("execplanner.store.records")}
    assert not {m for m in modules if m.endswith(".transaction")}

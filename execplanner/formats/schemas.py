"""Our own schemas (`schemas/` at the top of the repository): where they are, and checking documents
against them. Incoming XML is validated with xmlschema before it is read."""

from __future__ import annotations

import json
import os
from functools import cache
from pathlib import Path
from typing import Any

import xmlschema

from execplanner.errors import InvalidRequest

XSD_NAME = "execplanner.xsd"


def schema_dir() -> Path:
    """`EXECPLANNER_SCHEMA_DIR`, else `schemas/` beside the package (source checkout or editable install)."""
    configured = os.environ.get("EXECPLANNER_SCHEMA_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[2] / "schemas"


@cache
def _xsd() -> xmlschema.XMLSchema | None:
    path = schema_dir() / XSD_NAME
    if not path.exists():
        return None
    return xmlschema.XMLSchema(str(path))


@cache
def json_schema(name: str) -> dict[str, Any]:
    return json.loads((schema_dir() / name).read_text())


def validate_xml(data: bytes, root: str) -> None:
    """Refuse an XML document that does not match our XSD, naming the first problem."""
    schema = _xsd()
    if schema is None:
        return
    from execplanner.formats.xmltree import parse_element

    element = parse_element(data)
    errors = list(schema.iter_errors(element))
    if errors:
        first = errors[0]
        where = getattr(first, "path", None) or "document"
        reason = getattr(first, "reason", None) or str(first).splitlines()[0]
        raise InvalidRequest(f"XML document does not match the {root} schema at {where}: {reason}")

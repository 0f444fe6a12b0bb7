"""Our own schemas (`schemas/` at the top of the repository, shipped as `execplanner/schemas/`): where they are,
and checking documents against them. Incoming XML is validated with xmlschema before it is read."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import xmlschema
from lxml import etree
from xmlschema.validators import XsdElement

from execplanner.errors import ExecPlannerError, InvalidRequest
from execplanner.formats.bounds import DocumentLimits

_XSI = "http://www.w3.org/2001/XMLSchema-instance"

XSD_NAME = "execplanner.xsd"


# The schemas shipped inside the package. In a checkout `execplanner/schemas` is a symlink to the top-level
# `schemas/` (the one source of truth); a wheel holds real copies, so an installed service finds them with no
# setting at all.
PACKAGED_SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas"

_configured_dir: Path | None = None


def use_schema_dir(directory: Path | None) -> None:
    """Take the directory from `Settings.schema_dir` (create_app calls this); None means the packaged one."""
    global _configured_dir
    _configured_dir = directory


def schema_dir() -> Path:
    """The configured directory, else the schemas shipped in the package."""
    return _configured_dir or PACKAGED_SCHEMA_DIR


def xsd() -> xmlschema.XMLSchema:
    """Our XSD; a missing one is an installation error, reported when the service starts."""
    return _xsd_at(schema_dir() / XSD_NAME)


@cache
def _xsd_at(path: Path) -> xmlschema.XMLSchema:
    if not path.exists():
        raise ExecPlannerError(f"XML schema {path} not found; set EXECPLANNER_SCHEMA_DIR to the schemas/ directory")
    return xmlschema.XMLSchema(str(path))


def _without_namespaces(element: Any) -> Any:
    """Clients may namespace their documents; our XSD, like our writer, uses none."""
    for node in element.iter():
        if isinstance(node.tag, str) and node.tag.startswith("{"):
            node.tag = node.tag.split("}", 1)[1]
        for key in [k for k in node.attrib if k.startswith("{") and not k.startswith(f"{{{_XSI}}}")]:
            node.attrib[key.split("}", 1)[1]] = node.attrib.pop(key)
    etree.cleanup_namespaces(element)
    return element


@cache
def _declared_names() -> frozenset[str]:
    """Every element name our XSD declares anywhere (it has no wildcards)."""
    components = xsd().iter_components(xsd_classes=(XsdElement,))
    return frozenset(c.local_name for c in components if isinstance(c, XsdElement) and c.local_name)


def _refuse_undeclared(element: Any, root: str) -> None:
    """An element the XSD declares nowhere is refused at once: xmlschema builds an error object for every one of
    them before yielding the first, seconds for a few thousand."""
    names = _declared_names()
    for node in element.iter():
        if isinstance(node.tag, str) and node.tag not in names:
            where = element.getroottree().getpath(node)
            raise InvalidRequest(
                f"XML document does not match the {root} schema at {where}: unexpected element <{node.tag}>"
            )


def validate_xml(data: bytes, root: str, limits: DocumentLimits | None = None) -> None:
    """Refuse an XML document that does not match our XSD, naming the first problem (only the first is looked
    for: collecting every error of a hostile document costs more than quadratic time)."""
    from execplanner.formats.xmltree import parse_element

    element = _without_namespaces(parse_element(data, limits))
    _refuse_undeclared(element, root)
    first = next(iter(xsd().iter_errors(element)), None)
    if first is not None:
        where = getattr(first, "path", None) or "document"
        reason = getattr(first, "reason", None) or str(first).splitlines()[0]
        if len(reason) > 200:
            reason = reason[:200].rsplit(" ", 1)[0] + " …"
        raise InvalidRequest(f"XML document does not match the {root} schema at {where}: {reason}")

"""Bytes ↔ a plain tree (dicts, lists, scalars) for JSON, YAML and XML, parsed defensively.

Every parser here refuses what could hurt the service: YAML alias bombs and arbitrary tags, XML DTDs and
entities, non-mapping roots. Each failure is an `InvalidRequest` whose message tells the client what was wrong.
"""

from __future__ import annotations

from typing import Any

import yaml

from execplanner import _json
from execplanner.errors import InvalidRequest
from execplanner.formats import xmltree
from execplanner.formats.media import Format

MAX_YAML_ALIASES = 64
MAX_DEPTH = 64


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses more than a handful of aliases (billion-laughs documents)."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise InvalidRequest(f"YAML document uses more than {MAX_YAML_ALIASES} aliases; refused")
        return super().compose_node(parent, index)


def load_yaml(data: bytes | str) -> Any:
    try:
        return yaml.load(data, Loader=_BoundedLoader)  # noqa: S506 — a SafeLoader subclass
    except InvalidRequest:
        raise
    except yaml.YAMLError as exc:
        raise InvalidRequest(f"malformed YAML: {_first_line(exc)}") from exc
    except RecursionError as exc:
        raise InvalidRequest("YAML document is nested too deeply") from exc


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def _check_depth(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise InvalidRequest(f"document is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        for item in value.values():
            _check_depth(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_depth(item, depth + 1)


def parse(data: bytes, fmt: Format, *, root: str | None = None) -> dict[str, Any]:
    """Parse a request body into a mapping. `root`, for XML, is the expected root element name."""
    if not data.strip():
        raise InvalidRequest("the request body is empty")
    if fmt is Format.XML:
        tree = xmltree.parse(data, root=root)
    elif fmt is Format.YAML:
        tree = load_yaml(data)
    else:
        try:
            tree = _json.loads(data)
        except (_json.DecodeError, RecursionError) as exc:
            raise InvalidRequest(f"malformed JSON: {_first_line(exc)}") from exc
    if not isinstance(tree, dict):
        raise InvalidRequest(f"the {fmt.value.upper()} document must be a mapping at its top level")
    _check_depth(tree)
    return tree


def render(tree: dict[str, Any], fmt: Format, *, root: str) -> bytes:
    """Serialise a tree; `root` names the XML root element."""
    if fmt is Format.XML:
        return xmltree.render(tree, root=root)
    if fmt is Format.YAML:
        return yaml.safe_dump(tree, sort_keys=False, allow_unicode=True).encode()
    return _json.dumps(tree)

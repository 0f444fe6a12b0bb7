"""XML ↔ plain tree, by the project's one XML convention (documented in docs/formats.md):

* element names follow the JSON keys; a list is a repeated element;
* `offers` wraps its items: `<offers><execution>…</execution></offers>`;
* `type` and `kind` are attributes when their value is a string;
* a name→value map (`environment`, a message's `values`, `properties`) is `<entry key="…">value</entry>` items;
* documents are written without a namespace; any namespace on input is ignored.

Parsing refuses DTDs, entities and processing tricks: lxml runs with entity resolution and network off, and
the document is fed in chunks so that its element count and depth are checked while it is parsed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from lxml import etree

from execplanner.errors import InvalidRequest
from execplanner.formats import bounds
from execplanner.formats.bounds import DocumentLimits

WRAPPED = {"offers": "execution", "sites": "site", "reasons": "reason", "interfaces": "interface"}
ATTRIBUTES = ("type", "kind")
MAPS = {"environment", "values", "properties", "extra_specs", "evidence_map"}

_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "dtd_validation": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}
# Bytes fed to the parser between two checks of the limits: small enough that a refusal comes early.
_CHUNK = 16 * 1024


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _refuse_declarations(data: bytes) -> None:
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise InvalidRequest("XML documents with a DTD or entity declarations are not accepted")


class _Counter:
    """Elements, attributes and depth seen so far, checked against the limits after every chunk."""

    def __init__(self, limits: DocumentLimits) -> None:
        self.limits = limits
        self.nodes = 0
        self.depth = 0

    def take(self, events: Iterator[tuple[str, Any]]) -> None:
        for event, element in events:
            if event == "end":
                self.depth -= 1
                continue
            self.depth += 1
            self.nodes += 1 + len(element.attrib)
            if self.depth > self.limits.max_depth:
                raise bounds.too_deep(self.limits)
            if self.nodes > self.limits.max_nodes:
                raise bounds.too_many_nodes(self.limits)


def parse_element(data: bytes, limits: DocumentLimits | None = None) -> etree._Element:
    """Parse safely, chunk by chunk, refusing as soon as the document passes a limit; documents that carry a DTD
    or entity declarations are refused outright."""
    limits = limits or DocumentLimits()
    _refuse_declarations(data)
    deadline = limits.deadline()
    parser = etree.XMLPullParser(events=("start", "end"), **_PARSER_OPTIONS)
    counter = _Counter(limits)
    try:
        for offset in range(0, len(data), _CHUNK):
            parser.feed(data[offset : offset + _CHUNK])
            counter.take(parser.read_events())
            deadline.check()
        element = parser.close()
    except etree.XMLSyntaxError as exc:
        if "Excessive depth" in str(exc):  # libxml2 stops at 256 levels within one chunk, before we count them
            raise bounds.too_deep(limits) from exc
        raise InvalidRequest(f"malformed XML: {exc}") from exc
    docinfo = element.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise InvalidRequest("XML documents with a DTD or entity declarations are not accepted")
    return element


def parse(data: bytes, *, root: str | None = None, limits: DocumentLimits | None = None) -> dict[str, Any]:
    element = parse_element(data, limits)
    name = _local(element.tag)
    if root is not None and name != root:
        raise InvalidRequest(f"expected an XML document with root element <{root}>, got <{name}>")
    value = _read(element)
    return value if isinstance(value, dict) else {}


def _read(element: etree._Element) -> Any:
    """One element as a tree value: a name→value map, a wrapped list, a leaf, or a mapping of its children."""
    name = _local(element.tag)
    children = _children(element)
    if _is_map(name, children):
        return {c.get("key", ""): (c.text or "") for c in children}
    if name in WRAPPED:
        return [_read(c) for c in children]
    attributes = {_local(k): v for k, v in element.attrib.items() if _local(k) in ATTRIBUTES}
    if not children:
        return _read_leaf(element, attributes)
    result: dict[str, Any] = attributes
    for child in children:
        _merge(result, _local(child.tag), _read(child))
    return result


def _children(element: etree._Element) -> list[etree._Element]:
    return [c for c in element if isinstance(c.tag, str)]


def _is_map(name: str, children: list[etree._Element]) -> bool:
    """`<environment><entry key="…">…</entry>…</environment>`: a name→value map."""
    return name in MAPS and bool(children) and all(_local(c.tag) == "entry" for c in children)


def _read_leaf(element: etree._Element, attributes: dict[str, str]) -> Any:
    """Text, or with a `type`/`kind` attribute a mapping of the attributes and the text as `value`."""
    text = (element.text or "").strip()
    if not attributes:
        return text
    return {**attributes, **({"value": text} if text else {})}


def _merge(result: dict[str, Any], key: str, value: Any) -> None:
    """A repeated element becomes a list of its values, in document order."""
    if key not in result:
        result[key] = value
        return
    existing = result[key]
    if isinstance(existing, list) and key not in WRAPPED:
        existing.append(value)
    else:
        result[key] = [existing, value]


def render(tree: dict[str, Any], *, root: str) -> bytes:
    element = etree.Element(root)
    _write_mapping(element, tree)
    rendered: bytes = etree.tostring(element, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    return rendered


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _write_mapping(element: etree._Element, mapping: dict[str, Any]) -> None:
    for key, value in mapping.items():
        if value is None:
            continue
        if key in ATTRIBUTES and isinstance(value, str):
            element.set(key, value)
            continue
        if key in WRAPPED and isinstance(value, list):
            wrapper = etree.SubElement(element, key)
            for item in value:
                _write_value(wrapper, WRAPPED[key], item)
            continue
        if isinstance(value, list):
            for item in value:
                _write_value(element, key, item)
        else:
            _write_value(element, key, value)


def _write_value(parent: etree._Element, key: str, value: Any) -> None:
    child = etree.SubElement(parent, key)
    if isinstance(value, dict):
        if key in MAPS:
            for name, item in value.items():
                entry = etree.SubElement(child, "entry", key=str(name))
                entry.text = _scalar(item)
        else:
            _write_mapping(child, value)
    elif isinstance(value, list):
        for item in value:
            _write_value(child, "item", item)
    else:
        child.text = _scalar(value)

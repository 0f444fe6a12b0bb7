"""XML ↔ plain tree, by the project's one XML convention (documented in docs/formats.md):

* element names follow the JSON keys; a list is a repeated element;
* `offers` wraps its items: `<offers><execution>…</execution></offers>`;
* `type` and `kind` are attributes when their value is a string;
* a name→value map (`environment`, a message's `values`, `properties`) is `<entry key="…">value</entry>` items;
* documents are written without a namespace; any namespace on input is ignored.

Parsing refuses DTDs, entities and processing tricks: lxml runs with entity resolution and network off.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from execplanner.errors import InvalidRequest

WRAPPED = {"offers": "execution", "sites": "site", "reasons": "reason", "interfaces": "interface"}
ATTRIBUTES = ("type", "kind")
MAPS = {"environment", "values", "properties", "extra_specs", "evidence_map"}

_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def _local(tag: Any) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def parse_element(data: bytes) -> etree._Element:
    """Parse safely; documents that carry a DTD or entity declarations are refused outright."""
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise InvalidRequest("XML documents with a DTD or entity declarations are not accepted")
    try:
        element = etree.fromstring(data, parser=_PARSER)
    except etree.XMLSyntaxError as exc:
        raise InvalidRequest(f"malformed XML: {exc}") from exc
    docinfo = element.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise InvalidRequest("XML documents with a DTD or entity declarations are not accepted")
    return element


def parse(data: bytes, *, root: str | None = None) -> dict[str, Any]:
    element = parse_element(data)
    name = _local(element.tag)
    if root is not None and name != root:
        raise InvalidRequest(f"expected an XML document with root element <{root}>, got <{name}>")
    value = _read(element)
    return value if isinstance(value, dict) else {}


def _read(element: etree._Element) -> Any:
    name = _local(element.tag)
    children = [c for c in element if isinstance(c.tag, str)]
    attributes = {k: v for k, v in element.attrib.items() if _local(k) in ATTRIBUTES}
    if name in MAPS and all(_local(c.tag) == "entry" for c in children) and children:
        return {c.get("key", ""): (c.text or "") for c in children}
    if name in WRAPPED:
        return [_read(c) for c in children]
    if not children:
        text = (element.text or "").strip()
        if attributes:
            return {**{_local(k): v for k, v in attributes.items()}, **({"value": text} if text else {})}
        return text
    result: dict[str, Any] = {_local(k): v for k, v in attributes.items()}
    for child in children:
        key = _local(child.tag)
        value = _read(child)
        if key in result:
            existing = result[key]
            if isinstance(existing, list) and key not in WRAPPED:
                existing.append(value)
            else:
                result[key] = [existing, value]
        else:
            result[key] = value
    return result


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

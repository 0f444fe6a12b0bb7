"""Bytes ↔ a plain tree (dicts, lists, scalars) for JSON, YAML and XML, parsed defensively.

Every parser here refuses what could hurt the service: YAML alias bombs and arbitrary tags, XML DTDs and
entities, non-mapping roots. The work of reading is bounded *while* reading (`bounds.DocumentLimits`: expanded
nodes, depth, characters, seconds), so a parser never builds what a limit would refuse afterwards. Each failure
is an `InvalidRequest` whose message tells the client what was wrong.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from execplanner import _json
from execplanner.errors import DocumentTooCostly, InvalidRequest
from execplanner.formats import bounds, xmltree
from execplanner.formats.bounds import DocumentLimits
from execplanner.formats.media import Format

MAX_DEPTH = DocumentLimits().max_depth


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that measures the *expanded* document as it composes it: every node's expanded size (nodes and
    characters) and height is known when the node is complete, so an alias costs one lookup and a billion-laughs
    document is refused after composing a few hundred nodes, not after expanding them."""

    limits: DocumentLimits = DocumentLimits()

    def __init__(self, stream: Any, limits: DocumentLimits) -> None:
        super().__init__(stream)
        self.limits = limits
        self._deadline = limits.deadline()
        self._aliases = 0
        self._depth = 0
        self._measure: dict[int, tuple[int, int, int]] = {}  # id(node) -> (nodes, characters, height)
        # Nodes composed so far, an alias counting what it expands to: a lower bound of the whole document's
        # expanded count, so it may be refused before its largest collection is complete (a flat 1 MB list of
        # 300,000 scalars was counted only once composed whole: 6 s of CPU, refused by the deadline instead).
        self._composed = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._deadline.check()
        if self.check_event(AliasEvent):
            self._aliases += 1
            if self._aliases > self.limits.max_aliases:
                raise InvalidRequest(f"YAML document uses more than {self.limits.max_aliases} aliases; refused")
            node = super().compose_node(parent, index)
            if id(node) not in self._measure:
                raise InvalidRequest("YAML document contains a recursive alias; refused")
            self._check(self._measure[id(node)])
            self._count(self._measure[id(node)][0])
            return node
        self._depth += 1
        if self._depth > self.limits.max_depth:
            raise bounds.too_deep(self.limits)
        node = super().compose_node(parent, index)
        self._depth -= 1
        if node is None:
            return node
        self._measure[id(node)] = measure = self._measured(node)
        self._check(measure)
        self._count(1)
        return node

    def _count(self, nodes: int) -> None:
        self._composed += nodes
        if self._composed > self.limits.max_nodes:
            self._check((self._composed, 0, 0))

    def _measured(self, node: Node) -> tuple[int, int, int]:
        if isinstance(node, ScalarNode):
            return 1, len(node.value), 0
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        parts = [self._measure[id(child)] for child in children]
        return 1 + sum(p[0] for p in parts), sum(p[1] for p in parts), 1 + max((p[2] for p in parts), default=0)

    def _check(self, measure: tuple[int, int, int]) -> None:
        nodes, characters, height = measure
        problem = None
        if nodes > self.limits.max_nodes:
            problem = bounds.too_many_nodes(self.limits)
        elif characters > self.limits.max_characters:
            problem = bounds.too_long(self.limits)
        elif self._depth + height > self.limits.max_depth:
            problem = bounds.too_deep(self.limits)
        if problem is not None and self._aliases:
            raise DocumentTooCostly(f"with its {self._aliases} YAML aliases expanded, {problem.message}")
        if problem is not None:
            raise problem

    def construct_yaml_int(self, node: ScalarNode) -> Any:
        """An integer literal longer than any value we accept stays text, refused by `check_values` by name."""
        digits = node.value.replace("_", "").lstrip("+-")
        if len(digits) > bounds.MAX_INTEGER_DIGITS:
            return bounds.OversizedInteger(digits)
        return super().construct_yaml_int(node)


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)


def load_yaml(data: bytes | str, limits: DocumentLimits | None = None) -> Any:
    try:
        loader = _BoundedLoader(data, limits or DocumentLimits())  # reads the first bytes: may refuse them
    except yaml.YAMLError as exc:
        raise InvalidRequest(f"malformed YAML: {_first_line(exc)}") from exc
    try:
        return loader.get_single_data()
    except InvalidRequest:
        raise
    except yaml.YAMLError as exc:
        raise InvalidRequest(f"malformed YAML: {_first_line(exc)}") from exc
    except RecursionError as exc:
        raise InvalidRequest("YAML document is nested too deeply") from exc
    finally:
        loader.dispose()


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]


def _load_json(data: bytes, limits: DocumentLimits) -> Any:
    try:
        tree = _json.loads(data)
    except (_json.DecodeError, RecursionError) as exc:
        if isinstance(exc, RecursionError) or "depth limit" in str(exc) or "ecursion limit" in str(exc):
            raise bounds.too_deep(limits) from exc  # orjson stops at 1024 levels; ours is the limit to name
        raise InvalidRequest(f"malformed JSON: {_first_line(exc)}") from exc
    bounds.check_shape(tree, limits)
    return tree


def parse(data: bytes, fmt: Format, *, root: str | None = None, limits: DocumentLimits | None = None) -> dict[str, Any]:
    """Parse a request body into a mapping whose every value is in range (`bounds.check_values`).
    `root`, for XML, is the expected root element name. CPU-bound: callers on the event loop run it in a thread."""
    limits = limits or DocumentLimits()
    if not data.strip():
        raise InvalidRequest("the request body is empty")
    if fmt is Format.XML:
        tree = xmltree.parse(data, root=root, limits=limits)
    elif fmt is Format.YAML:
        tree = load_yaml(data, limits)
    else:
        tree = _load_json(data, limits)
    if not isinstance(tree, dict):
        raise InvalidRequest(f"the {fmt.value.upper()} document must be a mapping at its top level")
    bounds.check_values(tree)
    return tree


_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _PlainDumper(_BaseDumper):  # type: ignore[misc]
    """SafeDumper (libyaml's when present) that writes a shared object out again rather than as `&id001`/`*id001`:
    answers are read by clients that may refuse aliases (as we do beyond a few), and an alias means nothing to
    a reader."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(tree: dict[str, Any], fmt: Format, *, root: str) -> bytes:
    """Serialise a tree; `root` names the XML root element."""
    if fmt is Format.XML:
        return xmltree.render(tree, root=root)
    if fmt is Format.YAML:
        return yaml.dump(tree, Dumper=_PlainDumper, sort_keys=False, allow_unicode=True).encode()
    return _json.dumps(tree)

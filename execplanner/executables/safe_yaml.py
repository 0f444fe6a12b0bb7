"""YAML loading that cannot be abused: safe constructors only, and a cap on aliases and expanded size
(a "billion laughs" document is a few hundred bytes that expand to billions of nodes)."""

from __future__ import annotations

from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, SequenceNode

from execplanner.errors import InvalidExecutable
from execplanner.executables.limits import DEFAULT_LIMITS, ParseLimits


class _AliasLimitedLoader(yaml.SafeLoader):
    """SafeLoader that counts aliases while composing and measures the expanded node graph before building it."""

    limits: ParseLimits = DEFAULT_LIMITS

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.alias_count = 0

    def compose_node(self, parent: Node | None, index: object) -> Node | None:
        if self.check_event(AliasEvent):
            self.alias_count += 1
            if self.alias_count > self.limits.max_yaml_aliases:
                raise InvalidExecutable(
                    f"YAML document uses more than {self.limits.max_yaml_aliases} aliases; refusing to expand it"
                )
        return super().compose_node(parent, index)  # type: ignore[arg-type]


def _expanded_size(node: Node, memo: dict[int, int], active: set[int], limit: int) -> int:
    key = id(node)
    if key in memo:
        return memo[key]
    if key in active:
        raise InvalidExecutable("YAML document contains a recursive alias")
    active.add(key)
    size = 1
    if isinstance(node, SequenceNode):
        for child in node.value:
            size += _expanded_size(child, memo, active, limit)
    elif isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            size += _expanded_size(key_node, memo, active, limit) + _expanded_size(value_node, memo, active, limit)
    if size > limit:
        raise InvalidExecutable(f"YAML document expands to more than {limit} nodes; refusing to load it")
    active.discard(key)
    memo[key] = size
    return size


def load_yaml(text: str, what: str, limits: ParseLimits = DEFAULT_LIMITS) -> Any:
    """Load one YAML document safely; any YAML error becomes an InvalidExecutable naming `what`."""
    loader_class = type("_Loader", (_AliasLimitedLoader,), {"limits": limits})
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, set(), limits.max_yaml_nodes)
        return loader.construct_document(node)
    except InvalidExecutable as exc:
        raise InvalidExecutable(f"{what}: {exc.message}") from exc
    except yaml.YAMLError as exc:
        raise InvalidExecutable(f"{what} is not valid YAML: {_first_line(exc)}") from exc
    except RecursionError as exc:
        raise InvalidExecutable(f"{what} is nested too deeply") from exc
    finally:
        loader.dispose()


def _first_line(exc: Exception) -> str:
    return " ".join(str(exc).split())[:300]

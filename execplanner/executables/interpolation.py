"""Compose-file variable interpolation, as `docker compose` applies it before reading a file.

`${VAR}` and `$VAR`, `${VAR:-default}` (unset or empty), `${VAR-default}` (unset), `${VAR:?message}` and
`${VAR?message}` (required), `${VAR:+other}` and `${VAR+other}` (replacement when set), `$$` for a literal `$`.
Values come from the caller (the executable's `environment`); a variable nobody set is empty, as compose makes it.
Only values are interpolated, never keys — as compose does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from execplanner.errors import InvalidExecutable

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_PATTERN = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<bare>" + _NAME + r")|\{(?P<braced>" + _NAME + r")(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<invalid>\{[^}]*\}?))"
)


def interpolate_text(text: str, environment: Mapping[str, str], where: str = "compose file") -> str:
    """`text` with its variables replaced; a `${…}` that is not a valid expression is an `InvalidExecutable`."""

    def replace(match: re.Match[str]) -> str:
        if match.group("escaped"):
            return "$"
        if match.group("invalid") is not None:
            raise InvalidExecutable(f"{where}: invalid interpolation format {match.group(0)!r}")
        name = match.group("bare") or match.group("braced")
        value = environment.get(name)
        op, arg = match.group("op"), match.group("arg") or ""
        return _apply(op, name, value, arg, where)

    return _PATTERN.sub(replace, text)


def _apply(op: str | None, name: str, value: str | None, arg: str, where: str) -> str:
    empty_counts = bool(op) and op is not None and op.startswith(":")
    present = value if value is not None and (value != "" or not empty_counts) else None
    kind = op[-1] if op else None
    if kind == "-":
        return present if present is not None else arg
    if kind == "?":
        if present is None:
            raise InvalidExecutable(f"{where}: required variable {name} is not set{': ' + arg if arg else ''}")
        return present
    if kind == "+":
        return arg if present is not None else ""
    return value or ""


def interpolate(document: Any, environment: Mapping[str, str], where: str = "compose file") -> Any:
    """A parsed compose document with every string value interpolated (keys are left as written)."""
    if isinstance(document, str):
        return interpolate_text(document, environment, where)
    if isinstance(document, dict):
        return {key: interpolate(value, environment, where) for key, value in document.items()}
    if isinstance(document, list):
        return [interpolate(item, environment, where) for item in document]
    return document

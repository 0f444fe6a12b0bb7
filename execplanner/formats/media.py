"""Media types we read and write, and choosing one from `Content-Type` / `Accept`."""

from __future__ import annotations

import math
from enum import StrEnum

from execplanner.errors import NotAcceptable, UnsupportedMediaType


class Format(StrEnum):
    JSON = "json"
    YAML = "yaml"
    XML = "xml"


CONTENT_TYPES: dict[Format, str] = {
    Format.JSON: "application/json",
    Format.YAML: "application/yaml",
    Format.XML: "application/xml",
}

_READABLE: dict[str, Format] = {
    "application/json": Format.JSON,
    "text/json": Format.JSON,
    "application/yaml": Format.YAML,
    "application/x-yaml": Format.YAML,
    "text/yaml": Format.YAML,
    "text/x-yaml": Format.YAML,
    "application/xml": Format.XML,
    "text/xml": Format.XML,
}


def _bare(media_type: str) -> str:
    return media_type.split(";", 1)[0].strip().lower()


def format_of_content_type(content_type: str | None) -> Format:
    """The body's format; anything we cannot read is a 415 naming what we can."""
    bare = _bare(content_type or "")
    if bare in _READABLE:
        return _READABLE[bare]
    if bare.endswith("+json"):
        return Format.JSON
    if bare.endswith("+xml"):
        return Format.XML
    accepted = ", ".join(sorted({"application/json", "application/yaml", "text/yaml", "application/xml"}))
    shown = bare or "none"
    raise UnsupportedMediaType(f"content type '{shown}' is not supported; send one of: {accepted}")


def _weight(value: str) -> float:
    """A weight (RFC 9110 §12.4.2: 0 to 1), read leniently: above 1 counts as 1; one that is not a number, or not a
    finite one, as 0 (the range is not taken)."""
    try:
        quality = float(value)
    except ValueError:
        return 0.0
    return min(quality, 1.0) if math.isfinite(quality) else 0.0


def format_for_accept(accept: str | None, default: Format = Format.JSON) -> Format:
    """Pick the best format from an Accept header (q-values honoured; JSON when anything goes)."""
    if not accept or not accept.strip():
        return default
    choices: list[tuple[float, int, Format | None]] = []
    for position, item in enumerate(accept.split(",")):
        pieces = [p.strip() for p in item.split(";")]
        media = pieces[0].lower()
        quality = 1.0
        for param in pieces[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":  # parameter names are case-insensitive (RFC 9110 §5.6.6)
                quality = _weight(value.strip())
        if quality <= 0:
            continue
        if media in ("*/*", "application/*", "text/*"):
            choices.append((quality, -position, default))
        elif media in _READABLE:
            choices.append((quality, -position, _READABLE[media]))
        elif media.endswith("+json"):
            choices.append((quality, -position, Format.JSON))
        elif media.endswith("+xml"):
            choices.append((quality, -position, Format.XML))
    if not choices:
        raise NotAcceptable(
            f"cannot answer in '{accept}'; available: application/json, application/yaml, application/xml"
        )
    choices.sort(key=lambda c: (c[0], c[1]), reverse=True)
    chosen = choices[0][2]
    return chosen if chosen is not None else default

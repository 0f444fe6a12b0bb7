"""JSON encoding shared by the wire codecs and the store: orjson for speed, the standard library for the
values orjson refuses (integers beyond 64 bits that a YAML document or a parser may produce)."""

from __future__ import annotations

import json
from typing import Any

import orjson

loads = orjson.loads
DecodeError = orjson.JSONDecodeError


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value, ensure_ascii=False).encode()


def dumps_text(value: Any) -> str:
    return dumps(value).decode()

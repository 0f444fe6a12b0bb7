"""What a request may carry: limits on a document's shape, and the range of every value we accept.

Two jobs, both about never accepting what we cannot later store or render:

* `DocumentLimits` bounds the *work* of reading a document — its expanded node count, nesting depth and the
  seconds a parser may spend — so one small hostile body cannot hold a worker or the event loop.
* `check_values` walks a parsed tree (already bounded by those limits) and refuses, naming the field, any value
  that some format or database cannot carry: integers beyond what JSON numbers hold exactly, infinities and NaN,
  control characters that XML 1.0 cannot encode. `duration` and `interval` keep schedule arithmetic inside the
  range of `datetime` and of both databases.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from execplanner.errors import DocumentTooCostly, InvalidRequest

# Integers a JSON reader in any language holds exactly (RFC 7493, I-JSON): far beyond any core count or byte size.
MAX_INTEGER = 2**53 - 1
# Digits we are willing to turn into an `int` at all; anything longer is refused before conversion.
MAX_INTEGER_DIGITS = 20
# Schedules: at most ten years long, inside the years a session could sensibly run.
MAX_DURATION = timedelta(days=3660)
# A question that stores nothing (the 2022 note's /accepts) may name longer spans, as long as now plus the span
# stays a date (year 9999 at most).
MAX_QUESTION_DURATION = timedelta(days=1_000_000)
EARLIEST_INSTANT = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(2200, 1, 1, tzinfo=UTC)
# Fields that are one line by nature (identifiers, URIs, paths): not even tab or newline.
ONE_LINE_FIELDS = frozenset({"location", "vo", "type", "kind", "phase", "path", "name", "uuid", "digest", "ref"})

# What XML 1.0 cannot carry (C0 controls but tab/LF/CR, surrogates, U+FFFE/U+FFFF) and DEL/C1 controls, which no
# field of ours has a use for.
_UNCARRIABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_LINE_BREAKS = re.compile("[\t\n\r]")

T = TypeVar("T")

# What a parsed document may hold besides maps and lists: what JSON, YAML and XML all carry (YAML timestamps are
# rendered as ISO 8601 text). YAML's `!!binary` and `!!set` build bytes and sets, which no renderer writes.
_CARRIABLE_SCALARS = (str, int, float, bool, type(None), datetime, date)
# Map keys JSON can write (as text); a YAML date or tuple as a key cannot be stored.
_CARRIABLE_KEYS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class DocumentLimits:
    """How much reading one request document may cost; the service builds these from its settings."""

    max_nodes: int = 10_000
    max_depth: int = 64
    max_aliases: int = 64
    max_characters: int = 1024 * 1024
    seconds: float = 2.0

    def deadline(self) -> Deadline:
        return Deadline(time.monotonic() + self.seconds, self.seconds)


@dataclass(frozen=True)
class Deadline:
    """A point in time a parser checks as it goes (threads cannot be stopped from outside)."""

    at: float
    seconds: float

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise DocumentTooCostly(f"the document could not be read within {self.seconds:g} s; refused")


class OversizedInteger:
    """An integer literal too long to convert; kept as text so `check_values` can name its field."""

    __slots__ = ("digits",)

    def __init__(self, digits: str) -> None:
        self.digits = digits


def too_many_nodes(limits: DocumentLimits) -> DocumentTooCostly:
    return DocumentTooCostly(f"the document has more than {limits.max_nodes} elements, keys and values; refused")


def too_deep(limits: DocumentLimits) -> DocumentTooCostly:
    return DocumentTooCostly(f"the document is nested more than {limits.max_depth} levels deep; refused")


def too_long(limits: DocumentLimits) -> DocumentTooCostly:
    return DocumentTooCostly(f"the document expands to more than {limits.max_characters} characters; refused")


def check_shape(tree: Any, limits: DocumentLimits) -> None:
    """Count nodes and depth of a tree a C parser built (JSON): iterative, so no depth can overflow the stack."""
    pending: list[tuple[Any, int]] = [(tree, 0)]
    nodes = 0
    while pending:
        value, depth = pending.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise too_many_nodes(limits)
        if depth > limits.max_depth:
            raise too_deep(limits)
        if isinstance(value, dict):
            pending.extend((item, depth + 1) for item in value.values())
            nodes += len(value)
        elif isinstance(value, list):
            pending.extend((item, depth + 1) for item in value)


def check_values(tree: Any, where: str = "") -> None:
    """Refuse (400, naming the field) any value that some format or database could not carry. A first pass only
    looks; the field's name is worked out (a second pass) only for a document that has such a value."""
    if _carriable(tree, False):
        return
    _check_values(tree, where)
    raise InvalidRequest("the document holds a value no format can carry")  # not reached: both passes agree


def _carriable(value: Any, one_line: bool) -> bool:
    """True when `_check_values` would accept `value`: the same tests, without naming fields."""
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                if _UNCARRIABLE.search(key) or _LINE_BREAKS.search(key):
                    return False
            elif not isinstance(key, _CARRIABLE_KEYS):
                return False
            if not _carriable(item, str(key) in ONE_LINE_FIELDS):
                return False
        return True
    if isinstance(value, list):
        return all(_carriable(item, False) for item in value)
    if isinstance(value, str):
        return not (_UNCARRIABLE.search(value) or (one_line and _LINE_BREAKS.search(value)))
    return _scalar_carriable(value)


def _scalar_carriable(value: Any) -> bool:
    if isinstance(value, OversizedInteger):
        return False
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return abs(value) <= MAX_INTEGER
    if isinstance(value, float):
        return math.isfinite(value) and abs(value) <= MAX_INTEGER
    return isinstance(value, _CARRIABLE_SCALARS)


def _check_values(tree: Any, where: str = "") -> None:
    """Raise, naming the field, for the first value `_carriable` refuses."""
    if isinstance(tree, dict):
        for key, item in tree.items():
            field = f"{where}.{key}" if where else str(key)
            if not isinstance(key, _CARRIABLE_KEYS):
                raise InvalidRequest(f"'{field}': a map key must be text, a number or a boolean, not {_kind(key)}")
            if isinstance(key, str):
                _check_text(key, field + " (its name)", one_line=True)
            _check_field(item, field, str(key) in ONE_LINE_FIELDS)
    elif isinstance(tree, list):
        for index, item in enumerate(tree):
            _check_values(item, f"{where}[{index}]")
    else:
        _check_field(tree, where or "document", False)


def _check_field(value: Any, field: str, one_line: bool) -> None:
    if isinstance(value, dict | list):
        _check_values(value, field)
    elif isinstance(value, str):
        _check_text(value, field, one_line=one_line)
    elif isinstance(value, OversizedInteger):
        raise InvalidRequest(f"'{field}': an integer of {len(value.digits)} digits is out of range")
    elif isinstance(value, bool):
        return
    elif isinstance(value, int):
        if abs(value) > MAX_INTEGER:
            raise InvalidRequest(f"'{field}': {value} is out of range (at most {MAX_INTEGER} in magnitude)")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidRequest(f"'{field}': {value} is not a finite number")
        if abs(value) > MAX_INTEGER:
            raise InvalidRequest(f"'{field}': {value:g} is out of range (at most {MAX_INTEGER} in magnitude)")
    elif not isinstance(value, _CARRIABLE_SCALARS):
        raise InvalidRequest(
            f"'{field}': {_kind(value)} is not accepted; send text, a number, a boolean, a list or a map"
        )


def _kind(value: Any) -> str:
    """The YAML name of a value no format carries, for a message the client can act on."""
    names = {bytes: "a YAML !!binary value", set: "a YAML !!set", date: "a date", datetime: "a timestamp"}
    return names.get(type(value), f"a {type(value).__name__}")


def _check_text(text: str, field: str, *, one_line: bool) -> None:
    found = _UNCARRIABLE.search(text) or (_LINE_BREAKS.search(text) if one_line else None)
    if found:
        raise InvalidRequest(
            f"'{field}' may not contain control characters (found U+{ord(found.group()):04X} at {found.start()})"
        )


def duration(parse: Callable[[str], timedelta], text: str, where: str, longest: timedelta = MAX_DURATION) -> timedelta:
    """`parse(text)`, refused when longer than `longest` (or too large for `timedelta` at all)."""
    try:
        delta = parse(text)
    except (OverflowError, ValueError) as exc:
        raise InvalidRequest(f"'{where}': duration '{text}' is out of range") from exc
    if abs(delta) > longest:
        raise InvalidRequest(f"'{where}': duration '{text}' is longer than {longest.days} days")
    return delta


def instant(value: datetime, text: str, where: str) -> datetime:
    """`value` if it lies in the years we schedule (so that any duration added to it stays representable)."""
    if not EARLIEST_INSTANT <= value <= LATEST_INSTANT:
        raise InvalidRequest(f"'{where}': '{text}' is outside {EARLIEST_INSTANT.year}–{LATEST_INSTANT.year}; refused")
    return value


def interval(parse: Callable[[str], T], text: str, where: str) -> T:
    """`parse(text)` for an interval with a `start` and a `duration`, both checked to be in range."""
    try:
        value = parse(text)
    except (OverflowError, ValueError) as exc:
        raise InvalidRequest(f"'{where}': interval '{text}' is out of range") from exc
    start = getattr(value, "start", None)
    span = getattr(value, "duration", None)
    if isinstance(start, datetime):
        instant(start, text, where)
    if isinstance(span, timedelta) and abs(span) > MAX_DURATION:
        raise InvalidRequest(f"'{where}': interval '{text}' is longer than {MAX_DURATION.days} days")
    return value

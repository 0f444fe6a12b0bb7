"""Free-text quantities as people write them: "512M", "2g", "8 GB RAM", "4 cores", "100GB disk", "2h".

Binary multiples throughout (1 GB = 1 GiB): Docker reads "2g" that way, and authors writing "8 GB RAM" mean the
memory a machine sold as 8 GB has. Anything we cannot read returns None; callers decide whether that is a WARN.
"""

from __future__ import annotations

import math
import re

_UNIT_FACTORS: dict[str, int] = {
    "": 1,
    "b": 1,
    "k": 1024,
    "m": 1024**2,
    "g": 1024**3,
    "t": 1024**4,
    "p": 1024**5,
}

_SIZE = re.compile(
    r"(?<![\w.])(?P<number>\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>(?:[kmgtp]i?b?|b|bytes?|(?:kilo|mega|giga|tera|peta)bytes?)?)(?![a-z])",
    re.IGNORECASE,
)
_WORD_UNITS = {"kilo": "k", "mega": "m", "giga": "g", "tera": "t", "peta": "p", "byte": "b"}


def _unit_letter(unit: str) -> str:
    unit = unit.lower()
    for word, letter in _WORD_UNITS.items():
        if unit.startswith(word):
            return letter
    return unit[:1] if unit else ""


def parse_size_bytes(text: str | int | float, default_unit: str | None = "b") -> int | None:
    """Bytes in the first size found in `text`; a bare number is in `default_unit` (None: refuse bare numbers)."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        return None
    if isinstance(text, int | float):
        if default_unit is None or text < 0 or text != text or text == float("inf"):
            return None
        return math.ceil(text * _UNIT_FACTORS[default_unit.lower()[:1]])
    matches = list(_SIZE.finditer(text))
    with_unit = [m for m in matches if m.group("unit")]
    if with_unit:
        match = with_unit[0]
        letter = _unit_letter(match.group("unit"))
    elif matches and default_unit is not None:
        match = matches[0]
        letter = default_unit.lower()[:1]
    else:
        return None
    return math.ceil(float(match.group("number")) * _UNIT_FACTORS[letter])


def parse_size_mib(text: str | int | float, default_unit: str | None = "b") -> int | None:
    """MiB, rounded up, in the first size found in `text`."""
    size = parse_size_bytes(text, default_unit)
    return None if size is None else math.ceil(size / 1024**2)


_CORES = re.compile(r"(\d+)\s*(?:x\s*)?(?:v?cpus?|cores?|threads?|processors?|vcores?)\b", re.IGNORECASE)
_CORE_WORDS = {"single": 1, "dual": 2, "quad": 4, "hexa": 6, "octa": 8}
_CORE_WORD = re.compile(r"\b(single|dual|quad|hexa|octa)[- ]?core\b", re.IGNORECASE)


def parse_cores(text: str) -> int | None:
    """Cores in text like "4 cores", "2 vCPUs", "quad-core"; None if no count is stated."""
    match = _CORES.search(text)
    if match:
        return int(match.group(1))
    word = _CORE_WORD.search(text)
    return _CORE_WORDS[word.group(1).lower()] if word else None


_ARCHES = {"x86_64": "x86_64", "x86-64": "x86_64", "amd64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}


def parse_arch(text: str) -> str | None:
    lowered = text.lower()
    for word, arch in _ARCHES.items():
        if word in lowered:
            return arch
    return None


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|sec|secs|seconds?|m|min|mins|minutes?|h|hrs?|hours?|d|days?|w|weeks?)\b")
_ISO_DURATION = re.compile(
    r"^P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration_seconds(text: str | int | float, default_unit: str = "m") -> int | None:
    """Seconds in "2h", "90 min", "1d 2h", "PT2H", or a bare number in `default_unit` (Snakemake: minutes)."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        return None
    if isinstance(text, int | float):
        if text != text or text in (float("inf"), float("-inf")):
            return None
        return math.ceil(text * _DURATION_UNITS[default_unit]) if text >= 0 else None
    stripped = text.strip()
    iso = _ISO_DURATION.match(stripped.upper())
    if iso and stripped.upper() != "P":
        parts = {k: float(v) for k, v in iso.groupdict().items() if v}
        return math.ceil(
            parts.get("d", 0) * 86400 + parts.get("h", 0) * 3600 + parts.get("m", 0) * 60 + parts.get("s", 0)
        )
    if re.fullmatch(r"\d+(?:\.\d+)?", stripped):
        return parse_duration_seconds(float(stripped), default_unit)
    total = 0.0
    found = False
    for number, unit in _DURATION.findall(stripped.lower()):
        total += float(number) * _DURATION_UNITS[unit[0]]
        found = True
    return math.ceil(total) if found else None

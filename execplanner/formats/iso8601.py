"""ISO 8601 text: durations, instants and intervals — parsing and formatting that round-trip.

Only exact durations are accepted (weeks, days, hours, minutes, seconds): years and months have no fixed
length, and a schedule that silently guessed one would promise the wrong hours.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from execplanner.errors import InvalidRequest
from execplanner.model.documents import Interval

_DURATION = re.compile(
    r"^(?P<sign>[-+]?)P(?!$)(?:(?P<weeks>\d+(?:[.,]\d+)?)W)?(?:(?P<days>\d+(?:[.,]\d+)?)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+(?:[.,]\d+)?)H)?(?:(?P<minutes>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:[.,]\d+)?)S)?)?$"
)
_CALENDAR = re.compile(r"^[-+]?P(?:\d+Y)?(?:\d+M)?")


def parse_duration(text: str) -> timedelta:
    """`PT1H30M`, `P2D`, `P1W`, `PT0.5S` → timedelta. Years and months are refused with a reason."""
    value = text.strip().upper()
    match = _DURATION.match(value)
    if not match:
        if _CALENDAR.match(value) and re.search(r"\d+[YM]", value.split("T")[0]):
            raise InvalidRequest(f"duration '{text}' uses years or months, which have no fixed length; use days")
        raise InvalidRequest(f"'{text}' is not an ISO 8601 duration (e.g. PT1H30M)")
    parts = {k: float(v.replace(",", ".")) for k, v in match.groupdict().items() if v and k != "sign"}
    delta = timedelta(**parts)
    return -delta if match.group("sign") == "-" else delta


def format_duration(delta: timedelta) -> str:
    """Canonical form: days, hours, minutes, seconds, zeros omitted; `PT0S` for nothing."""
    sign = "-" if delta < timedelta(0) else ""
    delta = abs(delta)
    days = delta.days
    seconds = delta.seconds
    micro = delta.microseconds
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    date_part = f"{days}D" if days else ""
    time_part = ""
    if hours:
        time_part += f"{hours}H"
    if minutes:
        time_part += f"{minutes}M"
    if seconds or micro:
        time_part += f"{seconds}.{micro:06d}".rstrip("0").rstrip(".") + "S" if micro else f"{seconds}S"
    if not date_part and not time_part:
        return "PT0S"
    return f"{sign}P{date_part}" + (f"T{time_part}" if time_part else "")


def parse_instant(text: str) -> datetime:
    """An ISO 8601 date-time; one without an offset is taken as UTC. Basic format (20220424T120000) too."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise InvalidRequest(f"'{text}' is not an ISO 8601 date-time") from exc
    return in_utc(value)


def in_utc(value: datetime) -> datetime:
    """The instant in UTC (a time with no offset is taken as UTC); OverflowError when that leaves years 1-9999."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def format_instant(value: datetime) -> str:
    """UTC with a `Z`, whole seconds unless there is a fraction to keep."""
    value = value.astimezone(UTC)
    text = value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def parse_interval(text: str) -> Interval:
    """`start/duration`, `start/end`, `duration/end`, or a bare start (a zero-length window)."""
    parts = text.strip().split("/")
    if len(parts) == 1:
        return Interval(start=parse_instant(parts[0]), duration=timedelta(0))
    if len(parts) != 2 or not all(parts):
        raise InvalidRequest(f"'{text}' is not an ISO 8601 interval (e.g. 2026-01-01T10:00:00Z/PT2H)")
    first, second = parts
    if first.upper().startswith(("P", "-P", "+P")):
        end = parse_instant(second)
        duration = parse_duration(first)
        return _checked(Interval(start=end - duration, duration=duration), text)
    start = parse_instant(first)
    if second.upper().startswith(("P", "-P", "+P")):
        return _checked(Interval(start=start, duration=parse_duration(second)), text)
    return _checked(Interval(start=start, duration=parse_instant(second) - start), text)


def _checked(interval: Interval, text: str) -> Interval:
    if interval.duration < timedelta(0):
        raise InvalidRequest(f"interval '{text}' ends before it starts")
    return interval


def format_interval(interval: Interval) -> str:
    return f"{format_instant(interval.start)}/{format_duration(interval.duration)}"

"""ISO 8601 durations, instants and intervals: parsing and formatting round-trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from execplanner.errors import InvalidRequest
from execplanner.formats.iso8601 import (
    format_duration,
    format_instant,
    format_interval,
    parse_duration,
    parse_instant,
    parse_interval,
)
from execplanner.model.documents import Interval

durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3650))
instants = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC))


@given(durations)
def test_duration_round_trip(delta):
    assert parse_duration(format_duration(delta)) == delta


@given(instants)
def test_instant_round_trip(value):
    assert parse_instant(format_instant(value)) == value


@given(instants, durations)
def test_interval_round_trip(start, duration):
    interval = Interval(start=start, duration=duration)
    assert parse_interval(format_interval(interval)) == interval


@pytest.mark.parametrize(
    "text,expected",
    [
        ("PT1H", timedelta(hours=1)),
        ("PT28H27M40S", timedelta(hours=28, minutes=27, seconds=40)),
        ("P1W", timedelta(weeks=1)),
        ("P1DT12H", timedelta(days=1, hours=12)),
        ("PT0.5S", timedelta(seconds=0.5)),
        ("pt30m", timedelta(minutes=30)),
    ],
)
def test_known_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "1H", "P1H", "PT1D", "two hours", "P1Y", "P2M"])
def test_bad_durations_are_refused_with_a_reason(text):
    with pytest.raises(InvalidRequest):
        parse_duration(text)


def test_calendar_units_say_why():
    with pytest.raises(InvalidRequest, match="years or months"):
        parse_duration("P1M")


@pytest.mark.parametrize(
    "text,start,duration",
    [
        ("2026-01-01T10:00:00Z/PT2H", datetime(2026, 1, 1, 10, tzinfo=UTC), timedelta(hours=2)),
        ("2026-01-01T10:00:00Z/2026-01-01T12:30:00Z", datetime(2026, 1, 1, 10, tzinfo=UTC), timedelta(hours=2.5)),
        ("PT1H/2026-01-01T12:00:00Z", datetime(2026, 1, 1, 11, tzinfo=UTC), timedelta(hours=1)),
        ("20220424T120000/20220424T220000", datetime(2022, 4, 24, 12, tzinfo=UTC), timedelta(hours=10)),
        ("2026-01-01T10:00:00+02:00", datetime(2026, 1, 1, 8, tzinfo=UTC), timedelta(0)),
    ],
)
def test_interval_forms(text, start, duration):
    assert parse_interval(text) == Interval(start=start, duration=duration)


@pytest.mark.parametrize("text", ["2026-01-01T12:00:00Z/2026-01-01T10:00:00Z", "a/b/c", "/PT1H", "tomorrow"])
def test_bad_intervals(text):
    with pytest.raises(InvalidRequest):
        parse_interval(text)

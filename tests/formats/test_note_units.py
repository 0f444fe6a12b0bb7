"""The 2022 note's quantities with units: read the way the note's examples write them (property tests)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from execplanner.errors import InvalidRequest
from execplanner.formats import note2022
from execplanner.formats.iso8601 import format_duration
from execplanner.formats.note2022 import NoteQuestion

gib = st.integers(min_value=0, max_value=10_000)


def limits(**resources: str) -> dict:
    return note2022.normalised_resources(NoteQuestion(tasktype="jupyter-notebook", resources=resources))


@given(gib, st.sampled_from(["", "G", "g", "Gi", "GB", "GiB", "gib"]))
def test_whole_gib_in_any_spelling(n, unit):
    assert limits(minmemory=f"{n}{unit}", maxmemory=f"{n}{unit}") == {"minmemory": n, "maxmemory": n}


@given(st.integers(min_value=1, max_value=10_000_000))
def test_mib_bounds_stay_bounds(mib):
    read = limits(minmemory=f"{mib}M", maxmemory=f"{mib}Mi")
    assert read["minmemory"] * 1024 >= mib  # a minimum is rounded up
    assert read["maxmemory"] * 1024 <= mib  # a maximum is rounded down
    assert read["minmemory"] - read["maxmemory"] in (0, 1)


@given(st.integers(min_value=0, max_value=100_000), st.sampled_from([("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]))
def test_clock_durations(n, unit):
    letter, seconds = unit
    expected = format_duration(timedelta(seconds=n * seconds))
    assert limits(minduration=f"{n}{letter}") == {"minduration": expected}
    assert limits(minduration=f"{n * seconds}") == {"minduration": expected}


def test_combined_and_iso_durations():
    assert limits(minduration="1h30m", maxduration="PT2H", maxstartup="90s") == {
        "minduration": "PT1H30M",
        "maxduration": "PT2H",
        "maxstartup": "PT1M30S",
    }


@pytest.mark.parametrize(
    "key,value", [("minmemory", "8 potatoes"), ("maxmemory", "-1G"), ("minduration", "P1M"), ("mincores", "four")]
)
def test_what_cannot_be_read_names_the_parameter(key, value):
    with pytest.raises(InvalidRequest, match=f"resources.{key}"):
        limits(**{key: value})

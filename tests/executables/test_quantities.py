"""Free-text sizes, core counts and durations as people write them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from execplanner.executables.quantities import parse_cores, parse_duration_seconds, parse_size_mib
from execplanner.model.requirements import mib_to_gib


@pytest.mark.parametrize(
    ("text", "default_unit", "mib"),
    [
        ("512M", "b", 512),
        ("2g", "b", 2048),
        ("2048M", "b", 2048),
        ("1073741824", "b", 1024),
        ("8 GB RAM", None, 8192),
        ("100GB disk", None, 102400),
        ("1.5 GiB", None, 1536),
        ("512Mi", None, 512),
        ("4 cores, 16 GB of memory", None, 16384),
        ("10 gigabytes", None, 10240),
        ("8", None, None),
        ("plenty", None, None),
        (4000, "m", 4000),
        (64, "g", 65536),
    ],
)
def test_sizes(text: str | int, default_unit: str | None, mib: int | None) -> None:
    assert parse_size_mib(text, default_unit) == mib


@pytest.mark.parametrize(
    ("text", "cores"), [("4 cores", 4), ("2 vCPUs", 2), ("quad-core CPU", 4), ("16 cores, x86_64", 16), ("fast", None)]
)
def test_cores(text: str, cores: int | None) -> None:
    assert parse_cores(text) == cores


@pytest.mark.parametrize(
    ("text", "seconds"), [("4h", 14400), ("90 min", 5400), ("PT2H30M", 9000), ("1d 2h", 93600), (30, 1800), ("x", None)]
)
def test_durations(text: str | int, seconds: int | None) -> None:
    assert parse_duration_seconds(text) == seconds


_UNITS = {"K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}


@given(
    st.integers(min_value=0, max_value=10**6),
    st.sampled_from(sorted(_UNITS)),
    st.sampled_from(["", "i", "B", "iB"]),
    st.sampled_from(["", " "]),
    st.booleans(),
    st.sampled_from(["", " RAM", " disk", " of memory"]),
)
def test_size_with_unit_is_exact(number: int, unit: str, suffix: str, space: str, lower: bool, trailer: str) -> None:
    written = f"{number}{space}{unit}{suffix}"
    text = (written.lower() if lower else written) + trailer
    expected_bytes = number * _UNITS[unit]
    assert parse_size_mib(text, None) == -(-expected_bytes // 1024**2)


@given(st.integers(min_value=0, max_value=10**9))
def test_gib_rounds_up_and_never_undershoots(mib: int) -> None:
    gib = mib_to_gib(mib)
    assert gib * 1024 >= mib > (gib - 1) * 1024 or mib == gib == 0


@given(st.text(max_size=200))
def test_parsers_never_raise_on_any_text(text: str) -> None:
    parse_size_mib(text, None)
    parse_cores(text)
    parse_duration_seconds(text)

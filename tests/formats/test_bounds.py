"""Reading documents within bounds: the work of parsing is limited while parsing, and values are in range."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from execplanner.errors import DocumentTooCostly, InvalidRequest
from execplanner.formats import bounds, tree, xmltree
from execplanner.formats.bounds import DocumentLimits
from execplanner.formats.iso8601 import parse_duration, parse_interval
from execplanner.formats.media import Format

SMALL = DocumentLimits(max_nodes=200, max_depth=8, max_characters=2000, seconds=2.0)


def alias_levels(levels: int, per_level: int) -> bytes:
    lines = ["l0: &l0 [x, x, x, x]"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * per_level) + "]")
    return "\n".join(lines).encode()


def test_the_alias_count_is_a_setting():
    document = b"a: &a x\nb: [*a, *a, *a]\n"
    assert tree.parse(document, Format.YAML, limits=DocumentLimits(max_aliases=3))["b"] == ["x", "x", "x"]
    with pytest.raises(InvalidRequest, match="more than 2 aliases"):
        tree.parse(document, Format.YAML, limits=DocumentLimits(max_aliases=2))


def test_an_alias_costs_what_it_expands_to():
    assert tree.parse(alias_levels(2, 3), Format.YAML, limits=SMALL)["l2"] == [[["x"] * 4] * 3] * 3
    with pytest.raises(DocumentTooCostly, match="aliases expanded"):
        tree.parse(alias_levels(4, 4), Format.YAML, limits=SMALL)


def test_a_billion_laughs_is_refused_in_milliseconds():
    started = time.monotonic()
    with pytest.raises(InvalidRequest):
        tree.parse(alias_levels(40, 1) + b"\n" + alias_levels(9, 9).replace(b"l", b"m"), Format.YAML)
    assert time.monotonic() - started < 0.5


def test_expanded_characters_are_bounded():
    body = b"s: &s " + b"y" * 500 + b"\nt: [*s, *s, *s, *s, *s]\n"
    with pytest.raises(DocumentTooCostly, match="characters"):
        tree.parse(body, Format.YAML, limits=SMALL)


def test_depth_through_aliases_is_bounded():
    body = b"a: &a [[[[[1]]]]]\nb: [[[[*a]]]]\n"
    with pytest.raises(DocumentTooCostly, match="levels"):
        tree.parse(body, Format.YAML, limits=SMALL)


def test_recursive_alias_is_refused():
    with pytest.raises(InvalidRequest, match="recursive"):
        tree.parse(b"a: &a [*a]\n", Format.YAML)


@pytest.mark.parametrize(
    "body,fmt",
    [
        (b"[" * 20 + b"]" * 20, Format.JSON),
        (b"a: " + b"[" * 20 + b"]" * 20, Format.YAML),
        (b"<r>" + b"<a>" * 20 + b"</a>" * 20 + b"</r>", Format.XML),
    ],
)
def test_nesting_is_bounded_in_every_format(body, fmt):
    with pytest.raises(InvalidRequest):
        tree.parse(body, fmt, limits=SMALL)


def test_xml_elements_are_counted_while_parsing():
    with pytest.raises(DocumentTooCostly, match="200"):
        xmltree.parse(b"<r>" + b"<u>x</u>" * 1000 + b"</r>", limits=SMALL)
    assert xmltree.parse(b"<r>" + b"<u>x</u>" * 100 + b"</r>", limits=SMALL) == {"u": ["x"] * 100}


def test_json_node_count_is_bounded():
    with pytest.raises(DocumentTooCostly):
        tree.parse(b'{"a": [' + b",".join([b"1"] * 500) + b"]}", Format.JSON, limits=SMALL)


def test_a_parse_past_its_deadline_stops():
    limits = DocumentLimits(seconds=0.0)
    with pytest.raises(DocumentTooCostly, match="within"):
        tree.parse(b"a: [1, 2, 3]\n", Format.YAML, limits=limits)


@pytest.mark.parametrize(
    "document,field",
    [
        ({"a": {"b": [1, 2**53]}}, "a.b[1]"),
        ({"n": float("inf")}, "n"),
        ({"n": float("nan")}, "n"),
        ({"n": -1e300}, "n"),
        ({"x": {"location": "a\tb"}}, "x.location"),
        ({"free": "bell\x07"}, "free"),
        ({"free": "del\x7f"}, "free"),
        ({"free": "\ufffe"}, "free"),
        ({"k\x01": 1}, "k\x01 (its name)"),
        ({"n": bounds.OversizedInteger("9" * 30)}, "n"),
    ],
)
def test_values_out_of_range_name_their_field(document, field):
    with pytest.raises(InvalidRequest) as caught:
        bounds.check_values(document)
    assert f"'{field}'" in caught.value.message


def test_values_in_range_pass():
    bounds.check_values(
        {"n": 2**53 - 1, "m": -(2**53 - 1), "f": 1.5, "t": True, "free": "tab\tnewline\n", "name": "ünï 🚀", "z": None}
    )


def test_a_long_yaml_integer_is_never_converted():
    with pytest.raises(InvalidRequest, match="5000 digits"):
        tree.parse(b"n: " + b"7" * 5000 + b"\n", Format.YAML)


def test_durations_and_instants_in_range():
    assert bounds.duration(parse_duration, "P3660D", "d") == timedelta(days=3660)
    for text in ("P3661D", "P99999999999D", "PT99999999999999S"):
        with pytest.raises(InvalidRequest, match="'d'"):
            bounds.duration(parse_duration, text, "d")
    assert bounds.interval(parse_interval, "2199-01-01T00:00:00Z/P10D", "s").duration == timedelta(days=10)
    for text in ("9999-12-31T23:59:59Z", "1999-12-31T00:00:00Z", "2030-01-01T00:00:00Z/P99999999999D"):
        with pytest.raises(InvalidRequest, match="'s'"):
            bounds.interval(parse_interval, text, "s")


def test_xml_reading_is_unchanged():
    body = (
        b'<offers-request><executable type="urn:t"><environment><entry key="A">1</entry></environment>'
        b"<command>a</command><command>b</command></executable><offers><execution><x>1</x></execution>"
        b'<execution><x>2</x></execution></offers><leaf kind="k">v</leaf><empty/></offers-request>'
    )
    assert xmltree.parse(body, root="offers-request") == {
        "executable": {"type": "urn:t", "environment": {"A": "1"}, "command": ["a", "b"]},
        "offers": [{"x": "1"}, {"x": "2"}],
        "leaf": {"kind": "k", "value": "v"},
        "empty": "",
    }

"""Codecs: dialect detection, lenient reading, exact writing, and XML ↔ tree round trips."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from execplanner.errors import InvalidRequest, NotAcceptable, UnsupportedMediaType
from execplanner.formats import decode, encode, tree, uris
from execplanner.formats.media import Format, format_for_accept, format_of_content_type
from execplanner.model.documents import (
    Dialect,
    Executable,
    ExecutableKind,
    MinMax,
    Placement,
    ScheduleBlock,
    ScheduleOffer,
    Session,
)
from execplanner.model.phase import Phase

E2025 = "https://www.purl.org/ivoa.net/EB/schema/types/executables/docker-container-1.0"
E2026 = "https://www.purl.org/ivoa.net/EB/schema/v1.0/types/executable/docker-container-1.0"


def test_dialect_detection():
    assert decode.detect_dialect({"executable": {"type": E2025}}) is Dialect.BROKER_2025
    assert decode.detect_dialect({"executable": {"kind": E2026}}) is Dialect.CALYCOPIS_2026
    assert decode.detect_dialect({"executable": {"type": E2026}}) is Dialect.CALYCOPIS_2026
    assert decode.detect_dialect({"meta": {"name": "x"}, "executable": {"type": E2025}}) is Dialect.CALYCOPIS_2026


@pytest.mark.parametrize(
    "uri,kind",
    [
        (E2025, ExecutableKind.DOCKER_CONTAINER),
        (E2026, ExecutableKind.DOCKER_CONTAINER),
        (E2026.replace("v1.0/types", "v1.0//types"), ExecutableKind.DOCKER_CONTAINER),
        ("https://purl.org/esap.escape.eu/task-type/jupyter-notebook", ExecutableKind.JUPYTER_NOTEBOOK),
        ("uri://binder-notebook", ExecutableKind.BINDER_REPOSITORY),
        ("https://example.org/types/executables/docker-container-1.0", None),
        ("https://www.purl.org/ivoa.net/EB/schema/types/executables/quantum-1.0", None),
        ("https://www.purl.org/ivoa.net/EB/schema/types/executables/cwl-tool-1.0", None),  # parsed, not run
    ],
)
def test_executable_uris(uri, kind):
    assert uris.executable_kind(uri) is kind


def test_reading_is_lenient_about_shape():
    request = decode.read_offerset_request(
        {
            "executable": {
                "type": E2025,
                "image": "ghcr.io/ivoa/oligia-webtop:ubuntu-2022.01.13",
                "network": {"ports": {"internal": "3000", "protocol": "http"}},
            },
            "resources": {"compute": {"cores": {"min": "2"}, "memory": {"requested": {"min": 4, "max": "8"}}}},
            "schedule": {
                "requested": {"duration": {"min": "PT1H", "max": "PT3H"}, "start": "2030-01-01T00:00:00Z/PT1H"}
            },
        }
    )
    assert request.executable.image.locations == ["ghcr.io/ivoa/oligia-webtop:ubuntu-2022.01.13"]
    assert request.executable.ports[0].internal == 3000 and request.executable.ports[0].protocol == "HTTP"
    assert request.compute[0].cores == MinMax(min=2)
    assert request.compute[0].memory == MinMax(min=4, max=8)
    assert request.schedule.duration_max == timedelta(hours=3)
    assert len(request.schedule.start) == 1


def test_bad_shapes_name_the_field():
    with pytest.raises(InvalidRequest, match=r"compute\[0\]"):
        decode.read_offerset_request({"executable": {"type": E2025}, "resources": {"compute": ["four cores"]}})
    with pytest.raises(InvalidRequest, match="max is shorter"):
        decode.read_offerset_request(
            {"executable": {"type": E2025}, "schedule": {"requested": {"duration": {"min": "PT2H", "max": "PT1H"}}}}
        )


def _session(dialect: Dialect, phase: Phase = Phase.OFFERED) -> Session:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    block = ScheduleBlock(start=now, duration=timedelta(minutes=5))
    return Session(
        uuid=uuid4(),
        created=now,
        phase=phase,
        expires=now + timedelta(minutes=5),
        dialect=dialect,
        executable=Executable(kind=ExecutableKind.JUPYTER_NOTEBOOK, location="https://x/a.ipynb"),
        schedule=ScheduleOffer(preparing=block, available=block, releasing=block),
        placement=Placement(site="S", vo="v", flavor_id="f", flavor_name="m1", cores=2, memory_mib=4096),
    )


def test_2025_writes_ready_for_available_and_executing_block():
    written = encode.session_tree(_session(Dialect.BROKER_2025, Phase.AVAILABLE), "http://h", [Phase.CANCELLED])
    assert written["phase"] == "READY"
    assert "executing" in written["schedule"] and "available" not in written["schedule"]
    assert written["options"] == [{"type": "uri:enum-value-option", "path": "phase", "values": ["CANCELLED"]}]


def test_2026_writes_available_and_meta():
    written = encode.session_tree(_session(Dialect.CALYCOPIS_2026), "http://h", [Phase.ACCEPTED, Phase.REJECTED])
    assert written["phase"] == "OFFERED"
    assert written["meta"]["url"] == f"http://h/sessions/{written['meta']['uuid']}"
    assert written["schedule"]["available"]["start"].endswith("Z/PT0S")
    assert written["options"][0]["kind"] == "uri:enum-value-option"


def test_yaml_answers_spell_shared_parts_out_without_aliases():
    """Components of a 2026 session share one schedule; a YAML answer writes it out each time, as a reader
    that refuses aliases (we do, beyond a few) needs, and reads back equal to the tree."""
    written = encode.session_tree(_session(Dialect.CALYCOPIS_2026), "http://h", [Phase.ACCEPTED, Phase.REJECTED])
    shared = {"start": "2026-12-07T10:00:00Z"}
    written["x-shared"] = [shared, shared]
    text = tree.render(written, Format.YAML, root="session").decode()
    assert "&id" not in text and "*id" not in text
    assert tree.parse(text.encode(), Format.YAML) == written


def test_read_update_both_forms():
    assert decode.read_update({"update": {"type": "uri:enum-value-update", "path": "phase", "value": "X"}}).value == "X"
    assert decode.read_update({"kind": "uri:enum-value-update", "path": "phase", "value": "Y"}).value == "Y"
    with pytest.raises(InvalidRequest):
        decode.read_update({"update": "ACCEPTED"})


@pytest.mark.parametrize(
    "header,expected",
    [
        (None, Format.JSON),
        ("*/*", Format.JSON),
        ("application/xml", Format.XML),
        ("text/yaml;q=0.9, application/json;q=0.5", Format.YAML),
        ("application/xml;q=0, application/yaml", Format.YAML),
        ("text/html, */*;q=0.1", Format.JSON),
        ("application/json;Q=0, application/xml", Format.XML),  # parameter names are case-insensitive
        ("application/xml;q=2, application/json;q=0.9", Format.XML),  # above 1 counts as 1, not as refusal
        ("application/xml;q=nan, application/yaml;q=0.1", Format.YAML),  # not a number: that range is not taken
    ],
)
def test_accept_negotiation(header, expected):
    assert format_for_accept(header) is expected


def test_negotiation_failures():
    with pytest.raises(NotAcceptable):
        format_for_accept("image/png")
    with pytest.raises(UnsupportedMediaType):
        format_of_content_type("text/plain")
    assert format_of_content_type("application/json; charset=utf-8") is Format.JSON


keys = st.sampled_from(["name", "path", "level", "phase", "site", "start"])
leaves = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20)
leaves = leaves.filter(lambda s: s == s.strip())
trees = st.recursive(
    leaves,
    lambda children: st.dictionaries(keys, children, min_size=1, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(keys, trees, min_size=1, max_size=4))
def test_xml_tree_round_trip(document):
    rendered = tree.render(document, Format.XML, root="doc")
    assert tree.parse(rendered, Format.XML, root="doc") == document


def test_xml_lists_and_maps_round_trip():
    document = {
        "type": "t",
        "locations": ["a", "b"],
        "environment": {"A B": "1", "c": "2"},
        "offers": [{"phase": "OFFERED"}, {"phase": "OFFERED"}],
    }
    again = tree.parse(tree.render(document, Format.XML, root="r"), Format.XML, root="r")
    assert again == document

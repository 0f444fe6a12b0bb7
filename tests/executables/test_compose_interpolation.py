"""Compose variable interpolation happens before images, ports and resources are read (as `docker compose`)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from execplanner.errors import InvalidExecutable
from execplanner.executables.compose import compose_requirements
from execplanner.executables.interpolation import interpolate_text

ENVIRONMENT = {"SET": "value", "EMPTY": ""}


@pytest.mark.parametrize(
    "text,expected",
    [
        ("${SET}", "value"),
        ("$SET/x", "value/x"),
        ("${UNSET}", ""),
        ("${UNSET:-fallback}", "fallback"),
        ("${EMPTY:-fallback}", "fallback"),
        ("${UNSET-fallback}", "fallback"),
        ("${EMPTY-fallback}", ""),
        ("${SET:+other}", "other"),
        ("${UNSET+other}", ""),
        ("$$SET", "$SET"),
        ("tag:${buildtag:-latest}", "tag:latest"),
        ("no variables", "no variables"),
    ],
)
def test_interpolation_forms(text, expected):
    assert interpolate_text(text, ENVIRONMENT) == expected


@pytest.mark.parametrize("text,named", [("${UNSET:?give it}", "UNSET"), ("${EMPTY:?}", "EMPTY"), ("${oops", "${oops")])
def test_required_or_malformed_expressions_are_refused_naming_them(text, named):
    with pytest.raises(InvalidExecutable, match=named.replace("$", r"\$").replace("{", r"\{")):
        interpolate_text(text, ENVIRONMENT)


def test_images_and_ports_are_read_after_interpolation():
    compose = b"""
services:
  app:
    image: "registry.example.org/app:${buildtag:-latest}"
    ports: ["${PORT-8080}:80"]
"""
    record = compose_requirements(compose, "compose.yaml")
    assert record.runtime.images[0].reference.endswith("app:latest")
    assert [p.port for p in record.network.ports] == [80]
    chosen = compose_requirements(compose, "compose.yaml", environment={"buildtag": "2.1"})
    assert chosen.runtime.images[0].reference.endswith("app:2.1")


@given(st.text(alphabet=st.characters(blacklist_characters="$"), max_size=60))
def test_text_without_dollars_is_not_changed_by_interpolation(text):
    assert interpolate_text(text, {}) == text

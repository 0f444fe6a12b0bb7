"""Container image references, as Docker reads them, and protocol docker-container executables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from execplanner.errors import InvalidExecutable
from execplanner.executables import image_requirements
from execplanner.executables.images import parse_image_reference
from execplanner.model.requirements import ExecutableKind, Port

DIGEST = "sha256:" + "5d3b8c5bb0b5e8f4d2c6d7d2a1f0e9c8b7a6f5e4d3c2b1a09f8e7d6c5b4a3928"


@pytest.mark.parametrize(
    ("text", "reference", "registry", "namespace", "name", "tag"),
    [
        ("ubuntu", "docker.io/library/ubuntu:latest", "docker.io", "library", "ubuntu", "latest"),
        ("python:3.11-slim", "docker.io/library/python:3.11-slim", "docker.io", "library", "python", "3.11-slim"),
        (
            "jupyter/base-notebook",
            "docker.io/jupyter/base-notebook:latest",
            "docker.io",
            "jupyter",
            "base-notebook",
            "latest",
        ),
        (
            "ghcr.io/ivoa/oligia-webtop:ubuntu-2022.01.13",
            "ghcr.io/ivoa/oligia-webtop:ubuntu-2022.01.13",
            "ghcr.io",
            "ivoa",
            "oligia-webtop",
            "ubuntu-2022.01.13",
        ),
        (
            "localhost:5000/team/tools/sofia:2",
            "localhost:5000/team/tools/sofia:2",
            "localhost:5000",
            "team/tools",
            "sofia",
            "2",
        ),
        ("docker://quay.io/casa/casa:6.5.4-9", "quay.io/casa/casa:6.5.4-9", "quay.io", "casa", "casa", "6.5.4-9"),
        ("index.docker.io/library/nginx:1.25", "docker.io/library/nginx:1.25", "docker.io", "library", "nginx", "1.25"),
    ],
)
def test_reference_parts(text: str, reference: str, registry: str, namespace: str, name: str, tag: str) -> None:
    image = parse_image_reference(text)
    assert (image.reference, image.registry, image.namespace, image.name, image.tag) == (
        reference,
        registry,
        namespace,
        name,
        tag,
    )


def test_digest_is_kept() -> None:
    image = parse_image_reference(f"ghcr.io/ivoa/oligia-webtop@{DIGEST}")
    assert image.digest == DIGEST and image.tag == "latest"


@pytest.mark.parametrize("bad", ["", "Ubuntu", "ghcr.io/ivoa/web top", "nginx:", "nginx@sha256:xyz", "a//b"])
def test_bad_references_say_what_is_wrong(bad: str) -> None:
    with pytest.raises(InvalidExecutable, match="image|empty"):
        parse_image_reference(bad)


def test_protocol_docker_container_executable(fixtures: Path) -> None:
    """The 2026 wire form of an Oligia-like desktop: two locations of one image, HTTP on 3000."""
    executable = json.loads((fixtures / "containers/oligia-webtop-executable.json").read_text())
    ports = [
        Port(port=p["internal"]["port"], protocol=p["protocol"], path=p["path"], public=p["access"])
        for p in executable["network"]["ports"]
    ]
    record = image_requirements(executable["image"]["locations"], executable["image"]["digest"], ports)
    assert record.kind == ExecutableKind.DOCKER_CONTAINER
    [image] = record.runtime.images
    assert image.reference == "ghcr.io/ivoa/oligia-webtop:ubuntu-2022.01.13"
    assert image.locations == [
        "ghcr.io/ivoa/oligia-webtop:ubuntu-2022.01.13",
        "docker.io/ivoa/oligia-webtop:ubuntu-2022.01.13",
    ]
    assert image.digest == DIGEST
    assert [(p.port, p.protocol, p.path, p.public) for p in record.network.ports] == [(3000, "HTTP", "/", True)]
    assert record.interactive is True
    assert record.runtime.needs_docker is True


def test_locations_that_disagree_on_digest_are_refused() -> None:
    other = "sha256:" + "0" * 64
    with pytest.raises(InvalidExecutable, match="disagree"):
        image_requirements([f"ghcr.io/a/b@{DIGEST}", f"docker.io/a/b@{other}"])
    with pytest.raises(InvalidExecutable, match="at least one"):
        image_requirements([])


_component = st.from_regex(r"[a-z0-9]{1,6}(?:[._-][a-z0-9]{1,4}){0,2}", fullmatch=True)
_registry = st.sampled_from(["", "ghcr.io/", "quay.io/", "localhost:5000/", "registry.egi.eu/"])
_tag = st.one_of(st.just(""), st.from_regex(r":[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True))
_digest = st.one_of(st.just(""), st.from_regex(r"@sha256:[0-9a-f]{64}", fullmatch=True))


@given(_registry, st.lists(_component, min_size=1, max_size=3), _tag, _digest)
def test_normalised_reference_round_trips(registry: str, path: list[str], tag: str, digest: str) -> None:
    # Without a registry, a first component with a dot or colon *is* a registry host to Docker: not this case.
    assume(registry or len(path) == 1 or not any(c in path[0] for c in ".:"))
    image = parse_image_reference(registry + "/".join(path) + tag + digest)
    again = parse_image_reference(image.reference + (f"@{image.digest}" if image.digest else ""))
    assert again == image
    assert image.name == path[-1]
    assert image.tag == (tag[1:] or "latest")
    assert image.digest == (digest[1:] or None)

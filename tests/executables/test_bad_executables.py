"""Bad input gets a clear InvalidExecutable or a degraded record with a WARN; no other exception escapes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from execplanner.errors import InvalidExecutable
from execplanner.executables import ParseLimits, describe_bytes, describe_path
from execplanner.model.message import Level
from execplanner.model.requirements import ExecutableKind


def test_invalid_json_notebook(fixtures: Path) -> None:
    with pytest.raises(InvalidExecutable, match=r"invalid-json.ipynb is not valid JSON: .* line 2 column 3"):
        describe_path(fixtures / "bad/invalid-json.ipynb")


def test_git_lfs_pointer_instead_of_notebook(fixtures: Path) -> None:
    with pytest.raises(InvalidExecutable, match="Git LFS pointer.*git lfs pull"):
        describe_path(fixtures / "bad/lfs-pointer.ipynb")
    with pytest.raises(InvalidExecutable, match="Git LFS pointer"):
        describe_bytes((fixtures / "bad/lfs-pointer.ipynb").read_bytes(), None, "jupyter-notebook")


def test_notebook_saved_as_percent_script_is_read_with_a_warning(fixtures: Path) -> None:
    record = describe_path(fixtures / "bad/percent-format-notebook.py")
    assert record.kind == ExecutableKind.JUPYTER_NOTEBOOK
    assert record.runtime.packages == ["numpy", "spectral-cube"]
    assert [item.url for item in record.data] == ["https://example.org/data/ngc628-cube.fits"]
    [warning] = record.messages
    assert warning.level == Level.WARN and "jupytext" in warning.message


def test_plain_python_file_is_not_guessed_at() -> None:
    with pytest.raises(InvalidExecutable, match="cannot tell what analysis.py is"):
        describe_bytes(b"import numpy\nprint(numpy.pi)\n", "analysis.py")


def test_billion_laughs_compose_file_is_refused(fixtures: Path) -> None:
    with pytest.raises(InvalidExecutable, match="expands to more than"):
        describe_path(fixtures / "bad/compose-billion-laughs.yml")


def test_too_many_aliases_are_refused() -> None:
    anchors = "x-base: &base {restart: always}\n"
    services = "".join(f"  s{i}:\n    image: nginx\n    <<: *base\n" for i in range(150))
    with pytest.raises(InvalidExecutable, match="more than 100 aliases"):
        describe_bytes((anchors + "services:\n" + services).encode(), "compose.yml")


def test_recursive_alias_is_refused() -> None:
    with pytest.raises(InvalidExecutable, match="recursive"):
        describe_bytes(b"x-loop: &loop [*loop]\nservices:\n  a:\n    image: nginx\n", "compose.yml")


def test_unsafe_yaml_tags_are_not_constructed() -> None:
    text = b"services:\n  a:\n    image: !!python/object/apply:os.system ['touch /tmp/pwned']\n"
    with pytest.raises(InvalidExecutable, match="not valid YAML"):
        describe_bytes(text, "compose.yml")


def test_fifty_megabyte_notebook_is_refused_by_default() -> None:
    padding = "x" * (50 * 1024 * 1024)
    notebook = json.dumps(
        {
            "cells": [{"cell_type": "markdown", "metadata": {}, "source": padding}],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    ).encode()
    with pytest.raises(InvalidExecutable, match=r"more than the 20971520 bytes we read.*strip notebook outputs"):
        describe_bytes(notebook, "huge.ipynb")


def test_size_limit_is_configurable(fixtures: Path) -> None:
    data = (fixtures / "notebooks/gpu-stripped-metadata.ipynb").read_bytes()
    with pytest.raises(InvalidExecutable, match="more than the 100 bytes"):
        describe_bytes(data, "gpu.ipynb", limits=ParseLimits(max_document_bytes=100))


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (b'{"nbformat": 5, "cells": []}', "future.ipynb", "nbformat 5"),
        (b'{"cells": []}', "x.ipynb", "no nbformat field"),
        (b'{"nbformat": 4, "cells": "nope", "metadata": {}}', "x.ipynb", "not a readable notebook"),
        (b"\xff\xfe\x00binary", "x.ipynb", "not UTF-8"),
        (b"services: [1, 2]\n", "compose.yml", "needs a `services:` mapping"),
        (b"services:\n  web:\n    ports: ['80:80']\n", "compose.yml", "neither image nor build"),
        (b"services:\n  web:\n    image: 'Not A Valid Image'\n", "compose.yml", "not a valid name component"),
        (b"services:\n  web: [\n", "compose.yml", "not valid YAML"),
        (b"[1, 2, 3]", "codemeta.json", "not a codemeta object"),
        (b"{", "codemeta.json", "not valid JSON"),
        (b"FROM\n", "Dockerfile", "no FROM|image"),
    ],
)
def test_malformed_documents_get_clear_errors(data: bytes, filename: str, message: str) -> None:
    with pytest.raises(InvalidExecutable, match=message):
        describe_bytes(data, filename)


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(InvalidExecutable, match="not one we understand"):
        describe_bytes(b"{}", None, "https://example.org/types/executable/teleporter-1.0")
    with pytest.raises(InvalidExecutable, match="described by a repository"):
        describe_bytes(b"{}", None, "binder-repository")


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
_codemeta_keys = st.sampled_from(
    [
        "memoryRequirements",
        "processorRequirements",
        "storageRequirements",
        "programmingLanguage",
        "runtimePlatform",
        "softwareRequirements",
        "operatingSystem",
        "codeRepository",
        "identifier",
        "name",
        "@id",
        "@context",
    ]
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_codemeta_keys, _json_values, max_size=8))
def test_any_codemeta_shape_gives_a_record_or_a_clear_error(document: dict[str, object]) -> None:
    try:
        describe_bytes(json.dumps(document).encode(), "codemeta.json")
    except InvalidExecutable as exc:
        assert "structure we cannot read" not in exc.message  # the parser, not the safety net, explains


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(["image", "ports", "expose", "deploy", "environment", "volumes", "cpus", "mem_limit", "build"]),
        _json_values,
        max_size=6,
    )
)
def test_any_compose_service_shape_gives_a_record_or_a_clear_error(service: dict[str, object]) -> None:
    document = json.dumps({"services": {"web": service}})  # JSON is YAML
    try:
        describe_bytes(document.encode(), "compose.yml")
    except InvalidExecutable as exc:
        assert "structure we cannot read" not in exc.message

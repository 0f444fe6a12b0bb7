"""Bring what you have: `execplanner describe PATH --request` turns a notebook, compose file, workflow or CWL
tool into an offer-set request that validates against our schema and that a real server answers."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from execplanner.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
SCHEMA = json.loads((ROOT / "schemas" / "offerset-request.schema.json").read_text())
CASES = [
    ("compose/oligia-webtop-desktop.yml", "docker-container", None),
    ("compose/oligia-webtop-desktop.yml", "docker-compose", "https://example.org/oligia/compose.yml"),
    ("notebooks/astropy-gaia-v4-with-kernelspec.ipynb", "jupyter-notebook", "https://example.org/gaia.ipynb"),
    ("cwl/sofia-source-finder.cwl", "docker-container", None),
    ("repositories/hcg16-casa-udocker", "binder-repository", "https://github.com/AMIGA-IAA/hcg-16"),
]


@functools.cache
def request_validator() -> Any:
    """What `jsonschema.validate(document, SCHEMA)` builds, built once: the schema is checked against its
    meta-schema here, not again for every document (that check was three quarters of this module's time)."""
    validator = jsonschema.validators.validator_for(SCHEMA)
    validator.check_schema(SCHEMA)
    return validator(SCHEMA)


def describe_request(path: Path, location: str | None, dialect: str) -> dict:
    args = ["describe", str(path), "--request", "--yaml", "--dialect", dialect]
    if location:
        args += ["--location", location]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    return yaml.safe_load(result.output)


@pytest.mark.parametrize("dialect", ["2025", "2026"])
@pytest.mark.parametrize("fixture,kind,location", CASES, ids=[c[0].split("/")[-1] + "-" + c[1] for c in CASES])
def test_described_request_is_valid_and_answered(http, service, fixture, kind, location, dialect):
    document = describe_request(FIXTURES / fixture, location, dialect)
    request_validator().validate(document)
    executable = document["executable"]
    assert (executable.get("kind") or executable.get("type")).endswith(f"/{kind}-1.0")
    answer = http.post(service.url("/offersets"), json=document, allow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert answer.json()["result"] == "YES", answer.json()["messages"]


def test_described_resources_reach_the_planner(http, service):
    document = describe_request(FIXTURES / "workflows" / "hi-friends-sofia", "https://example.org/hi-friends", "2026")
    assert document["compute"]["cores"]["min"] == 32  # the SoFiA rule's threads
    answer = http.post(service.url("/offersets"), json=document).json()
    # no simulated site has a 32-core flavor for vo.access.egi.eu: an honest NO that says how far off it is
    assert answer["result"] == "NO"
    assert answer["messages"][0]["message"].startswith(
        "no site supporting vo.access.egi.eu offers a flavor with 32 cores; largest is 16 cores at "
    )

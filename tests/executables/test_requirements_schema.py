"""schemas/requirements.schema.json: in step with the model, and valid for what every fixture produces."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from execplanner.executables import describe_path
from execplanner.executables.schema import requirements_schema

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schemas" / "requirements.schema.json"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DESCRIBABLE = [
    *sorted(p.relative_to(FIXTURES).as_posix() for p in (FIXTURES / "notebooks").glob("*.ipynb")),
    "compose/oligia-webtop-desktop.yml",
    "compose/jupyter-postgres-gpu.yml",
    "containers/oligia-webtop",
    "containers/casa-pipeline.def",
    "cwl/sofia-source-finder.cwl",
    "codemeta/radio-imaging-v3.json",
    "workflows/hi-friends-sofia",
    "repositories/hcg16-casa-udocker",
    "bad/percent-format-notebook.py",
    "bad/codemeta-wrong-types.json",
]


def _schema() -> dict[str, object]:
    return json.loads(SCHEMA_FILE.read_text())


def test_committed_schema_matches_the_model() -> None:
    assert _schema() == requirements_schema(), (
        "regenerate: python -m execplanner.executables.schema > schemas/requirements.schema.json"
    )


def test_schema_is_valid_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(_schema())


@pytest.mark.parametrize("fixture", DESCRIBABLE)
def test_fixture_output_is_valid(fixture: str) -> None:
    document = json.loads(describe_path(FIXTURES / fixture).model_dump_json())
    jsonschema.Draft202012Validator(_schema(), format_checker=jsonschema.FormatChecker()).validate(document)


def test_schema_rejects_a_record_with_an_unknown_source() -> None:
    document = json.loads(describe_path(FIXTURES / "cwl/sofia-source-finder.cwl").model_dump_json())
    document["compute"]["cores_min"]["source"] = "guessed"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(_schema()).validate(document)

"""The catalogue's JSON Schema (2020-12), generated from the pydantic model so the two cannot disagree.

`schemas/catalogue.schema.json` is this output, committed for readers and other tools; a test checks it
is current. Regenerate with `execplanner catalogue schema -o schemas/catalogue.schema.json`.
"""

from __future__ import annotations

import json
from typing import Any

from execplanner.catalogue.model import SCHEMA_VERSION, Catalogue
from execplanner.errors import CatalogueError

SCHEMA_ID = "urn:execplanner:schema:catalogue"


def catalogue_json_schema() -> dict[str, Any]:
    schema = Catalogue.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_ID}:{SCHEMA_VERSION}",
        **schema,
    }


def catalogue_json_schema_text() -> str:
    return json.dumps(catalogue_json_schema(), indent=2, sort_keys=True) + "\n"


def schema_errors(document: Any) -> list[str]:
    """Every JSON Schema violation in a plain document, as '<json path>: <message>' (empty when valid)."""
    import jsonschema

    from execplanner.catalogue._files import json_path

    validator = jsonschema.Draft202012Validator(catalogue_json_schema())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{json_path(list(e.absolute_path))}: {e.message}" for e in errors]


def check_document(document: Any, origin: str) -> None:
    """Raise `CatalogueError` naming `origin` and the first offending field when the schema rejects it."""
    errors = schema_errors(document)
    if errors:
        raise CatalogueError(f"invalid catalogue {origin}: {errors[0]}", details=errors)

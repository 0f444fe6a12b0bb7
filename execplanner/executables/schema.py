"""The JSON Schema (2020-12) of what `execplanner describe` prints, generated from the `Requirements` model.

The committed copy is schemas/requirements.schema.json; regenerate it with
`python -m execplanner.executables.schema > schemas/requirements.schema.json` (a test checks they agree).
"""

from __future__ import annotations

import json
from typing import Any

from execplanner.model.requirements import Requirements

SCHEMA_ID = "https://execplanner.example.org/schemas/requirements.schema.json"


def requirements_schema() -> dict[str, Any]:
    generated = Requirements.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **generated,
        "description": "What an executable needs, as printed by `execplanner describe`: every number carries its "
        "source (declared, derived or default) and a confidence.",
    }


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(requirements_schema(), indent=2))

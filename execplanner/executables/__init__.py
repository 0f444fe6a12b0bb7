"""What an executable needs: one parser per kind of description, all producing a `Requirements` record.

Parsing never runs user code: notebooks are read with `ast`, Snakefiles as text, YAML with a safe loader.
"""

from execplanner.executables.describe import (
    describe_bytes,
    describe_path,
    describe_repository_url,
    executable_kind,
    image_requirements,
)
from execplanner.executables.limits import DEFAULT_LIMITS, ParseLimits
from execplanner.executables.merge import enrich

__all__ = [
    "DEFAULT_LIMITS",
    "ParseLimits",
    "describe_bytes",
    "describe_path",
    "describe_repository_url",
    "enrich",
    "executable_kind",
    "image_requirements",
]

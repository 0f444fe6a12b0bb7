"""Type URIs of each dialect, and reading any of them back to what they name."""

from __future__ import annotations

import re

from execplanner.model.documents import PROTOCOL_KINDS, Dialect, ExecutableKind

BASE_2025 = "https://www.purl.org/ivoa.net/EB/schema/types"
BASE_2026 = "https://www.purl.org/ivoa.net/EB/schema/v1.0/types"

# component -> (2025 path, 2026 path) below the base
COMPONENTS: dict[str, tuple[str, str]] = {
    "compute": ("resources/compute/simple-compute-resource-1.0", "compute/simple-compute-resource-1.0"),
    "storage": ("resources/storage/simple-storage-resource-1.0", "storage/simple-storage-resource-1.0"),
    "data": ("resources/data/simple-data-resource-1.0", "data/simple-data-resource-1.0"),
    "volume": ("volumes/simple-volume-mount-1.0", "volume/simple-volume-mount-1.0"),
    "offerset": ("offersets/offerset-response-1.0", "offerset/execution-offerset-1.0"),
    "session": ("sessions/execution-session-response-1.0", "session/scheduled-execution-session-1.0"),
}

ENUM_UPDATE = "uri:enum-value-update"
ENUM_OPTION = "uri:enum-value-option"

# 2022 note task types (and the ESAP purl forms) -> our kinds
NOTE_TASK_TYPES: dict[str, ExecutableKind] = {
    "uri://jupyter-notebook": ExecutableKind.JUPYTER_NOTEBOOK,
    "uri://esap-notebook": ExecutableKind.JUPYTER_NOTEBOOK,
    "uri://binder-notebook": ExecutableKind.BINDER_REPOSITORY,
    "uri://docker-container": ExecutableKind.DOCKER_CONTAINER,
    "uri://docker-compose": ExecutableKind.DOCKER_COMPOSE,
    "uri://singularity-container": ExecutableKind.SINGULARITY_CONTAINER,
    "uri://snakemake-workflow": ExecutableKind.SNAKEMAKE_WORKFLOW,
    "https://purl.org/esap.escape.eu/task-type/jupyter-notebook": ExecutableKind.JUPYTER_NOTEBOOK,
    "https://purl.org/esap.escape.eu/task-type/binder-notebook": ExecutableKind.BINDER_REPOSITORY,
    "https://purl.org/esap.escape.eu/task-type/docker-container": ExecutableKind.DOCKER_CONTAINER,
    "https://purl.org/esap.escape.eu/task-type/docker-compose": ExecutableKind.DOCKER_COMPOSE,
}
# execplanner's own additions to the note's task types
NOTE_TASK_TYPES_OWN = {
    "https://purl.org/execplanner/task-type/snakemake-workflow": ExecutableKind.SNAKEMAKE_WORKFLOW,
    "https://purl.org/execplanner/task-type/codemeta-workflow": ExecutableKind.DOCKER_CONTAINER,
}

# the 2022 note's examples as printed name task types bare: `tasktype=jupyter-notebook`
NOTE_BARE_TASK_TYPES: dict[str, ExecutableKind] = {
    uri.removeprefix("uri://"): kind for uri, kind in NOTE_TASK_TYPES.items() if uri.startswith("uri://")
}

_EXECUTABLE = re.compile(r"/types/executables?/(?P<name>[a-z-]+)-(?P<version>\d+\.\d+)$")


def normalise(uri: str) -> str:
    """Collapse doubled slashes after the scheme (`v1.0//types`), trim spaces."""
    uri = uri.strip()
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return uri
    return f"{scheme}://{re.sub(r'/{2,}', '/', rest)}"


def executable_uri(kind: ExecutableKind, dialect: Dialect) -> str:
    if dialect is Dialect.CALYCOPIS_2026:
        return f"{BASE_2026}/executable/{kind.value}-1.0"
    return f"{BASE_2025}/executables/{kind.value}-1.0"


def executable_kind(uri: str) -> ExecutableKind | None:
    """The kind an executable type URI names (either generation), or None if we do not know it."""
    uri = normalise(uri)
    if uri in NOTE_TASK_TYPES:
        return NOTE_TASK_TYPES[uri]
    if uri in NOTE_TASK_TYPES_OWN:
        return NOTE_TASK_TYPES_OWN[uri]
    match = _EXECUTABLE.search(uri)
    if not match or not (uri.startswith(BASE_2025) or uri.startswith(BASE_2026)):
        return None
    try:
        kind = ExecutableKind(match.group("name"))
    except ValueError:
        return None
    return kind if kind in PROTOCOL_KINDS else None


def canonical_executable_uri(uri: str | None, kind: ExecutableKind, dialect: Dialect) -> str:
    """The URI an answer writes for an executable: the spelling the client's dialect defines (2025: plural
    `types/executables/`, 2026: `v1.0/types/executable/`), keeping the version the client named. A client's
    own spelling (singular in 2025, a doubled slash, a 2022 task type) is never echoed back."""
    match = _EXECUTABLE.search(normalise(uri)) if uri else None
    version = match.group("version") if match and match.group("name") == kind.value else "1.0"
    if dialect is Dialect.CALYCOPIS_2026:
        return f"{BASE_2026}/executable/{kind.value}-{version}"
    return f"{BASE_2025}/executables/{kind.value}-{version}"


def note_task_kind(tasktype: str) -> ExecutableKind | None:
    """The kind a 2022 note task type names: a bare name (`docker-compose`), a `uri://` or ESAP purl form, or
    any executable type URI of the later dialects."""
    bare = tasktype.strip().lower()
    if bare in NOTE_BARE_TASK_TYPES:
        return NOTE_BARE_TASK_TYPES[bare]
    return executable_kind(tasktype)


def component_uri(component: str, dialect: Dialect) -> str:
    path_2025, path_2026 = COMPONENTS[component]
    if dialect is Dialect.CALYCOPIS_2026:
        return f"{BASE_2026}/{path_2026}"
    return f"{BASE_2025}/{path_2025}"


def is_2026(uri: str) -> bool:
    return normalise(uri).startswith(BASE_2026)

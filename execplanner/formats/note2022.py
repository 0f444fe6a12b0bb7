"""The 2022 ExecutionPlanner note: `/accepts` questions in, YES/NO answers out.

The note spells its answer word `reponseword`; we write both that and `responseword`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from execplanner.errors import InvalidRequest
from execplanner.formats import bounds, uris
from execplanner.formats.iso8601 import format_duration, parse_duration
from execplanner.model.documents import (
    MAX_QUANTITY,
    ComputeResource,
    Dialect,
    Executable,
    ExecutableKind,
    Image,
    MinMax,
    OfferSetRequest,
    ScheduleRequest,
)
from execplanner.model.requirements import Requirements

ROOT_ANSWER = "execution-planner-response"

RESOURCE_PARAMETERS = ("mincores", "maxcores", "minmemory", "maxmemory", "minduration", "maxduration", "maxstartup")


@dataclass
class NoteQuestion:
    """One `/accepts` question: a task type, its task info documents and resource limits. `refusals` are
    reasons read from a task document that make the answer NO whatever the planner says (a template)."""

    tasktype: str
    taskinfo: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, Any] = field(default_factory=dict)
    described: Requirements | None = None
    refusals: list[tuple[int, str]] = field(default_factory=list)


# What a note client gets to use, per task type (docs/formats.md lists them): the note's own service types where
# one fits (a Jupyter server answers the note's `jupyter-rest` interface, whether the notebook came alone or from
# a Binder repository), ours for the rest.
SERVICE_TYPES: dict[ExecutableKind, str] = {
    ExecutableKind.JUPYTER_NOTEBOOK: "https://purl.org/esap.escape.eu/service-type/jupyter-rest",
    ExecutableKind.BINDER_REPOSITORY: "https://purl.org/esap.escape.eu/service-type/jupyter-rest",
    ExecutableKind.DOCKER_CONTAINER: "https://purl.org/execplanner/service-type/docker-container",
    ExecutableKind.DOCKER_COMPOSE: "https://purl.org/execplanner/service-type/docker-compose",
    ExecutableKind.SINGULARITY_CONTAINER: "https://purl.org/execplanner/service-type/singularity-container",
    ExecutableKind.SNAKEMAKE_WORKFLOW: "https://purl.org/execplanner/service-type/snakemake-workflow",
}


def service_type(question: NoteQuestion) -> str | None:
    """What the client of this question would get, or None for a task type we do not run."""
    kind = uris.note_task_kind(question.tasktype)
    return SERVICE_TYPES.get(kind) if kind else None


_WHOLE = re.compile(r"^\s*(\d+)\s*$")
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGTP])(I?B?)?\s*$", re.IGNORECASE)
_SIZE_FACTOR = {"K": 1 / 1024**2, "M": 1 / 1024, "G": 1, "T": 1024, "P": 1024**2}  # in GiB
_CLOCK = re.compile(r"^\s*(?:(\d+(?:\.\d+)?)\s*([smhdw])\s*)+$", re.IGNORECASE)
_CLOCK_PART = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])", re.IGNORECASE)
_CLOCK_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def _given(resources: dict[str, Any], key: str) -> str | None:
    value = resources.get(key)
    return None if value in (None, "") else str(value)


def _read_int(resources: dict[str, Any], key: str) -> int | None:
    value = _given(resources, key)
    if value is None:
        return None
    match = _WHOLE.match(value)
    if not match:
        raise InvalidRequest(f"resources.{key} must be a whole number, not '{value}'")
    return int(match.group(1))


def _read_memory_gib(resources: dict[str, Any], key: str) -> int | None:
    """GiB in `8`, `8G`, `8Gi`, `8GB`, `8GiB`, `512M`, `1T` (binary multiples; a bare number is GiB, as the note
    says). A minimum is rounded up to whole GiB, a maximum down: a bound stays a bound."""
    value = _given(resources, key)
    if value is None:
        return None
    if _WHOLE.match(value):
        return int(value)
    match = _SIZE.match(value)
    if not match:
        raise InvalidRequest(
            f"resources.{key} must be a whole number of GiB or a size such as 8G, 8Gi, 512M; not '{value}'"
        )
    gib = float(match.group(1)) * _SIZE_FACTOR[match.group(2).upper()]
    return math.ceil(gib) if key.startswith("min") else math.floor(gib)


def _int(resources: dict[str, Any], key: str) -> int | None:
    return _bounded(_read_int, resources, key)


def _memory_gib(resources: dict[str, Any], key: str) -> int | None:
    return _bounded(_read_memory_gib, resources, key)


def _bounded(read: Callable[[dict[str, Any], str], int | None], resources: dict[str, Any], key: str) -> int | None:
    """A quantity as `read` reads it, refused (400) beyond what the model holds rather than failing on it."""
    try:
        number = read(resources, key)
    except (ValueError, OverflowError) as exc:  # thousands of digits, or a size that overflows a float
        raise InvalidRequest(f"resources.{key} is out of range") from exc
    if number is not None and number > MAX_QUANTITY:
        raise InvalidRequest(f"resources.{key} must be at most {MAX_QUANTITY}, not {number}")
    return number


def _duration(resources: dict[str, Any], key: str) -> timedelta | None:
    """A duration, not negative, within `bounds.MAX_QUESTION_DURATION` (400 otherwise, never an overflow)."""
    value = _given(resources, key)
    if value is None:
        return None
    where = f"resources.{key}"
    delta = bounds.duration(lambda text: _read_duration(text, key), value, where, bounds.MAX_QUESTION_DURATION)
    if delta < timedelta(0):
        raise InvalidRequest(f"resources.{key} must not be a negative duration, not '{value}'")
    return delta


def _durations(resources: dict[str, Any]) -> tuple[timedelta | None, timedelta | None]:
    """`minduration` and `maxduration` as bounds (PROTOCOL.md): a maximum of nothing, or one shorter than the
    minimum, is a 400 as in the broker's requests (a zero maximum would otherwise read as no maximum at all).
    A zero minimum is no minimum."""
    shortest, longest = _duration(resources, "minduration"), _duration(resources, "maxduration")
    if longest is not None and longest <= timedelta(0):
        raise InvalidRequest(f"resources.maxduration must be positive, not '{_given(resources, 'maxduration')}'")
    if shortest and longest is not None and longest < shortest:
        raise InvalidRequest("resources.maxduration is shorter than resources.minduration")
    return shortest or None, longest


def _read_duration(value: str, key: str) -> timedelta:
    """Seconds as a bare number, `5s`, `5m`, `2h`, `1d`, `1h30m`, or an ISO 8601 duration (`PT5M`)."""
    if _WHOLE.match(value):
        return timedelta(seconds=int(value))
    if _CLOCK.match(value):
        seconds = sum(float(n) * _CLOCK_SECONDS[u.lower()] for n, u in _CLOCK_PART.findall(value))
        return timedelta(seconds=seconds)
    try:
        return parse_duration(value)
    except InvalidRequest as exc:
        raise InvalidRequest(
            f"resources.{key} must be seconds, a duration such as 5s, 5m, 2h, or ISO 8601 (PT5M); not '{value}'"
        ) from exc


def normalised_resources(question: NoteQuestion) -> dict[str, Any]:
    """The client's limits in canonical units (cores, GiB, ISO 8601 durations), each read as the planner reads
    it; `maxstartup` too."""
    r = question.resources
    values: dict[str, Any] = {
        "mincores": _int(r, "mincores"),
        "maxcores": _int(r, "maxcores"),
        "minmemory": _memory_gib(r, "minmemory"),
        "maxmemory": _memory_gib(r, "maxmemory"),
    }
    for key in ("minduration", "maxduration", "maxstartup"):
        duration = _duration(r, key)
        values[key] = format_duration(duration) if duration is not None else None
    return {key: value for key, value in values.items() if value is not None}


def to_request(question: NoteQuestion) -> OfferSetRequest | None:
    """The broker request this question amounts to; None if the task type is unknown."""
    kind = uris.note_task_kind(question.tasktype)
    if kind is None:
        return None
    info = question.taskinfo
    executable = Executable(kind=kind, kind_uri=question.tasktype)
    location = info.get("notebook") or info.get("location") or info.get("url")
    if isinstance(location, str):
        executable.location = location
    image = info.get("image")
    if isinstance(image, str):
        executable.image = Image(locations=[image])
    repository = info.get("repository")
    if isinstance(repository, dict):
        executable.repository = repository.get("url")
    elif isinstance(repository, str):
        executable.repository = repository
    if isinstance(info.get("path"), str):
        executable.path = info["path"]
    if kind is ExecutableKind.DOCKER_COMPOSE and isinstance(info.get("composefile"), str):
        executable.compose = info["composefile"]
    r = question.resources
    compute = ComputeResource(
        cores=MinMax(min=_int(r, "mincores"), max=_int(r, "maxcores")),
        memory=MinMax(min=_memory_gib(r, "minmemory"), max=_memory_gib(r, "maxmemory")),
    )
    shortest, longest = _durations(r)
    schedule = ScheduleRequest(duration_min=shortest, duration_max=longest)
    return OfferSetRequest(
        dialect=Dialect.NOTE_2022,
        executable=executable,
        compute=[compute],
        schedule=schedule,
        described=question.described,
    )


def answer_tree(
    yes: bool,
    servicetype: str,
    endpoint: str,
    resources: dict[str, Any],
    reasons: list[tuple[int, str]],
    interfaces: list[dict[str, Any]],
) -> dict[str, Any]:
    word = "YES" if yes else "NO"
    tree: dict[str, Any] = {
        "reponseword": word,
        "responseword": word,
        "servicetype": servicetype,
        "serviceinfo": {"endpoint": endpoint},
        "resources": resources,
    }
    if interfaces:
        tree["interfaces"] = interfaces
    if reasons:
        tree["reponseinfo"] = {"reasons": [{"httpcode": code, "text": text} for code, text in reasons]}
    return tree


def echo_resources(
    question: NoteQuestion, cores: int | None, memory_gib: int | None, duration: timedelta | None
) -> dict[str, Any]:
    """The client's limits echoed (in canonical units: `8G` is echoed as 8, `5m` as PT5M), extended with what we
    would actually give."""
    echoed = normalised_resources(question)
    if cores is not None:
        echoed["cores"] = cores
    if memory_gib is not None:
        echoed["memory"] = memory_gib
    if duration is not None:
        echoed["duration"] = format_duration(duration)
    return echoed


LEASE_TYPE = "https://purl.org/ep.ivoa.net/definitions/executable-lease"
# the task block's name: `task` in the note's schema and most examples, `binder-task` in its complex Binder examples
TASK_BLOCKS = ("task", "binder-task")


def _task_of(document: dict[str, Any]) -> dict[str, Any]:
    """The task a document describes: the document itself, or the `task` of a lease (request, offer …)."""
    inner = document.get("task")
    if document.get("type") == LEASE_TYPE or (isinstance(inner, dict) and "type" in inner):
        if not isinstance(inner, dict):
            raise InvalidRequest("the lease has no 'task' describing what to run")
        return inner
    return document


def _taskinfo(task: dict[str, Any]) -> dict[str, Any]:
    """The note's task block in the names `to_request` reads (`notebook`, `repository`, `path`, `image` …)."""
    block: dict[str, Any] = next((task[name] for name in TASK_BLOCKS if isinstance(task.get(name), dict)), {})
    info = dict(block)
    if "notebook-url" in info:
        info.setdefault("notebook", info["notebook-url"])
    if "repository-url" in info:
        info.setdefault("repository", info["repository-url"])
    return info


def _compute_limits(task: dict[str, Any]) -> dict[str, Any]:
    computes = task.get("compute-resources") or []
    if not isinstance(computes, list):
        raise InvalidRequest("'compute-resources' must be a list")
    if len(computes) > 1:
        raise InvalidRequest("'compute-resources' lists more than one compute resource; this service runs one VM")
    first = computes[0] if computes else {}
    if not isinstance(first, dict):
        raise InvalidRequest("'compute-resources[0]' must be a mapping")
    limits = {key: first[key] for key in ("mincores", "maxcores", "minmemory", "maxmemory") if key in first}
    limits.update({key: task[key] for key in ("minduration", "maxduration") if key in task})
    return limits


def _data_refusals(task: dict[str, Any]) -> list[tuple[int, str]]:
    """A data resource of a task *template* has no location (a data value no value): it cannot be staged, so the
    answer is NO until the task is located — the note's template/located pair."""
    refusals = []
    for index, item in enumerate(task.get("data-resources") or []):
        if not isinstance(item, dict):
            raise InvalidRequest(f"'data-resources[{index}]' must be a mapping")
        is_value = item.get("type") == "urn:data-value"
        field_name = "value" if is_value else "location"
        if item.get(field_name) in (None, ""):
            what = item.get("description") or item.get("uuid") or f"item {index}"
            refusals.append((400, f"data-resources[{index}] ({what}) has no {field_name}: locate the task first"))
    return refusals


def question_from_document(document: dict[str, Any]) -> NoteQuestion:
    """A note task document (`{type, task | binder-task, compute-resources, data-resources, minduration}`) or a
    lease carrying one (`{type: …executable-lease, task: {…}}`), as printed in the note's examples."""
    task = _task_of(document)
    tasktype = task.get("type")
    if not isinstance(tasktype, str) or not tasktype:
        raise InvalidRequest("the task document has no 'type' naming its task type")
    info = _taskinfo(task)
    return NoteQuestion(
        tasktype=tasktype,
        taskinfo=info,
        resources=_compute_limits(task),
        refusals=_missing_refusals(tasktype, info) + _data_refusals(task),
    )


# What a task document must name for its task type to be runnable: a notebook needs its notebook, Binder its
# repository. (A bare `GET /accepts?tasktype=…` asks only whether the type is run here, and needs neither.)
REQUIRED_TASK_FIELDS = {
    ExecutableKind.JUPYTER_NOTEBOOK: ("notebook", "the notebook's URL"),
    ExecutableKind.BINDER_REPOSITORY: ("repository", "the repository to build"),
}


def _missing_refusals(tasktype: str, info: dict[str, Any]) -> list[tuple[int, str]]:
    kind = uris.note_task_kind(tasktype)
    required = REQUIRED_TASK_FIELDS.get(kind) if kind else None
    if required is None or info.get(required[0]) or info.get("location"):
        return []
    return [(400, f"task.{required[0]} is required for a {tasktype} task: {required[1]}")]

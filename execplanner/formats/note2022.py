"""The 2022 ExecutionPlanner note: `/accepts` questions in, YES/NO answers out.

The note spells its answer word `reponseword`; we write both that and `responseword`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from execplanner.errors import InvalidRequest
from execplanner.formats import uris
from execplanner.formats.iso8601 import format_duration, parse_duration
from execplanner.model.documents import (
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
    """One `/accepts` question: a task type, its task info documents and resource limits."""

    tasktype: str
    taskinfo: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, str] = field(default_factory=dict)
    described: Requirements | None = None


def _int(resources: dict[str, str], key: str) -> int | None:
    value = resources.get(key)
    if value in (None, ""):
        return None
    try:
        number = int(str(value))
    except ValueError as exc:
        raise InvalidRequest(f"resources.{key} must be a whole number, not '{value}'") from exc
    if number < 0:
        raise InvalidRequest(f"resources.{key} must not be negative")
    return number


def _duration(resources: dict[str, str], key: str) -> timedelta | None:
    value = resources.get(key)
    if value in (None, ""):
        return None
    if str(value).isdigit():
        return timedelta(seconds=int(value))
    return parse_duration(str(value))


def to_request(question: NoteQuestion) -> OfferSetRequest | None:
    """The broker request this question amounts to; None if the task type is unknown."""
    kind = uris.executable_kind(question.tasktype)
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
        memory=MinMax(min=_int(r, "minmemory"), max=_int(r, "maxmemory")),
    )
    schedule = ScheduleRequest(duration_min=_duration(r, "minduration"), duration_max=_duration(r, "maxduration"))
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
    """The client's limits echoed, extended with what we would actually give."""
    echoed: dict[str, Any] = {
        key: int(value) if str(value).isdigit() else value
        for key, value in question.resources.items()
        if value not in (None, "")
    }
    if cores is not None:
        echoed["cores"] = cores
    if memory_gib is not None:
        echoed["memory"] = memory_gib
    if duration is not None:
        echoed["duration"] = format_duration(duration)
    return echoed

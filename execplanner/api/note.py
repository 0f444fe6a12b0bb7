"""The legacy ExecutionPlanner note endpoint: `GET /accepts?tasktype=…` and multipart `POST /accepts`.

It asks the same planner as `/offersets`, but only asks: nothing is stored and no capacity is held.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from execplanner.api.caller import caller_of
from execplanner.api.documents import base_url, respond, response_format
from execplanner.booking import ask_only
from execplanner.errors import BodyTooLarge, InvalidExecutable, InvalidRequest, UnsupportedMediaType
from execplanner.executables import describe_bytes
from execplanner.formats import note2022
from execplanner.formats.media import Format
from execplanner.formats.tree import load_yaml
from execplanner.model.requirements import Requirements
from execplanner.planner.plan import Caller, Plan


def _question_from_params(params: Any) -> note2022.NoteQuestion:
    tasktype = params.get("tasktype")
    if not tasktype:
        raise InvalidRequest("the 'tasktype' parameter is required")
    taskinfo = {k.removeprefix("taskinfo."): v for k, v in params.items() if k.startswith("taskinfo.")}
    resources = {
        k.removeprefix("resources."): v
        for k, v in params.items()
        if k.startswith("resources.") and k.removeprefix("resources.") in note2022.RESOURCE_PARAMETERS
    }
    return note2022.NoteQuestion(tasktype=str(tasktype), taskinfo=taskinfo, resources=resources)


# taskinfo parts that are whole executable descriptions, read by the same parsers as `execplanner describe`
DESCRIPTION_PARTS = {
    "taskinfo.notebook": "jupyter-notebook",
    "taskinfo.composefile": "docker-compose",
    "taskinfo.codemeta": "codemeta",
    "taskinfo.snakefile": "snakemake-workflow",
}


async def _part_bytes(value: Any, name: str, limit: int) -> tuple[bytes, str | None]:
    if isinstance(value, UploadFile):
        data = await value.read(limit + 1)
        if len(data) > limit:
            raise BodyTooLarge(f"part '{name}' exceeds the limit of {limit} bytes")
        return data, value.filename
    return str(value).encode(), None


def _part_value(data: bytes, name: str) -> Any:
    """A taskinfo part is a JSON or YAML document (or a plain string)."""
    try:
        return load_yaml(data)
    except InvalidRequest as exc:
        raise InvalidRequest(f"part '{name}' is not JSON or YAML: {exc.message}") from exc


def _describe(parts: dict[str, tuple[bytes, str | None]]) -> Requirements | None:
    """Requirements from the first part that describes the executable itself; None if there is none."""
    for name, kind in DESCRIPTION_PARTS.items():
        if name in parts:
            data, filename = parts[name]
            try:
                return describe_bytes(data, filename, kind=kind)
            except InvalidExecutable as exc:
                raise InvalidExecutable(f"part '{name}': {exc.message}") from exc
    return None


def _plan(request: Request, question: note2022.NoteQuestion, caller: Caller) -> tuple[Any, Plan | None]:
    offer_request = note2022.to_request(question)
    if offer_request is None:
        return None, None
    state = request.app.state
    return offer_request, ask_only(state.store, offer_request, state.planner, datetime.now(UTC), caller)


def _no(
    question: note2022.NoteQuestion, fmt: Format, url: str, servicetype: str, reasons: list[tuple[int, str]]
) -> Response:
    resources = note2022.echo_resources(question, None, None, None)
    tree = note2022.answer_tree(False, servicetype, f"{url}/offersets", resources, reasons, [])
    return respond(tree, fmt, root=note2022.ROOT_ANSWER)


async def _answer(request: Request, question: note2022.NoteQuestion, fmt: Format, caller: Caller) -> Response:
    offer_request, plan = await run_in_threadpool(_plan, request, question, caller)
    settings = request.app.state.settings
    url = base_url(request)
    if plan is None:
        return _no(question, fmt, url, settings.broker_standard_id, [(400, f"unknown task type '{question.tasktype}'")])
    if not plan.offers:
        reasons = [(409, m.message) for m in plan.messages] or [(409, "no site can run this task")]
        return _no(question, fmt, url, settings.broker_standard_id, reasons)
    best = plan.offers[0]
    interfaces = [
        {
            "servicetype": settings.broker_standard_id,
            "serviceinfo": {
                "endpoint": f"{url}/offersets",
                "site": o.placement.site,
                "flavor": o.placement.flavor_name,
            },
        }
        for o in plan.offers
    ]
    resources = note2022.echo_resources(question, best.cores.min, best.memory_gib.min, best.schedule.available.duration)
    tree = note2022.answer_tree(True, settings.broker_standard_id, f"{url}/offersets", resources, [], interfaces)
    return respond(tree, fmt, root=note2022.ROOT_ANSWER)


async def get_accepts(request: Request) -> Response:
    fmt = response_format(request)
    caller = await caller_of(request)
    return await _answer(request, _question_from_params(request.query_params), fmt, caller)


async def post_accepts(request: Request) -> Response:
    fmt = response_format(request)
    caller = await caller_of(request)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise UnsupportedMediaType("POST /accepts takes multipart/form-data: a 'tasktype' part and 'taskinfo.*' parts")
    limit = request.app.state.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"request body of {declared} bytes exceeds the limit of {limit} bytes")
    try:
        async with request.form(max_files=32, max_fields=256, max_part_size=limit) as form:
            params: dict[str, Any] = {}
            parts: dict[str, tuple[bytes, str | None]] = {}
            for key, value in form.multi_items():
                data, filename = await _part_bytes(value, key, limit)
                if key.startswith("taskinfo."):
                    text = data.strip()
                    if text.startswith((b"http://", b"https://")) and b"\n" not in text:
                        params[key] = text.decode("utf-8", "replace")  # a reference, not a document
                    elif key in DESCRIPTION_PARTS:
                        parts[key] = (data, filename)
                    else:
                        params[key] = _part_value(data, key)
                else:
                    params[key] = data.decode("utf-8", "replace")
    except (InvalidRequest, BodyTooLarge):
        raise
    except Exception as exc:  # noqa: BLE001 — python-multipart raises several types for malformed bodies
        raise InvalidRequest(f"malformed multipart body: {exc}") from exc
    question = _question_from_params(params)
    question.described = await run_in_threadpool(_describe, parts)
    return await _answer(request, question, fmt, caller)


routes = [
    Route("/accepts", get_accepts, methods=["GET"]),
    Route("/accepts", post_accepts, methods=["POST"]),
]

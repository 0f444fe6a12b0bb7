"""The legacy ExecutionPlanner note endpoint: `GET /accepts?tasktype=…`, multipart `POST /accepts`, and `POST
/accepts` with a note task or lease document (JSON or YAML) as the note prints them.

It asks the same planner as `/offersets`, but only asks: nothing is stored and no capacity is held.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.formparsers import FormParser, MultiPartParser
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from execplanner.api.caller import caller_of
from execplanner.api.documents import (
    base_url,
    document_limits,
    parsers_for,
    read_body,
    read_document,
    respond,
    response_format,
    run_off_loop,
)
from execplanner.booking import ask_only
from execplanner.errors import BodyTooLarge, InvalidExecutable, InvalidRequest, UnsupportedMediaType
from execplanner.executables import describe_bytes
from execplanner.formats import note2022
from execplanner.formats.bounds import DocumentLimits, check_values
from execplanner.formats.media import Format
from execplanner.formats.tree import load_yaml
from execplanner.model.requirements import Requirements
from execplanner.planner.plan import Caller, Plan


def _question_from_params(params: Any) -> note2022.NoteQuestion:
    check_values(dict(params.items()))  # echoed in the answer: nothing XML (or a database) cannot carry
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


async def _replay(body: bytes) -> AsyncGenerator[bytes, None]:
    yield body


async def _read_form(request: Request, content_type: str, limit: int) -> list[tuple[str, bytes, str | None]]:
    """The form's fields as bytes. The body is read whole first, under the same size limit and deadline as every
    other body (starlette's own form reading bounds each part, not the body, and a chunked body declares no
    length); splitting 1 MB into parts is then quick, and parsing the parts happens off the loop."""
    body = await read_body(request, limit)
    parser: MultiPartParser | FormParser
    if content_type.startswith("multipart/form-data"):
        parser = MultiPartParser(request.headers, _replay(body), max_files=32, max_fields=256, max_part_size=limit)
    else:
        parser = FormParser(request.headers, _replay(body), max_fields=256, max_part_size=limit)
    try:
        form = await parser.parse()
    except Exception as exc:  # noqa: BLE001 — python-multipart raises several types for malformed bodies
        raise InvalidRequest(f"malformed multipart body: {getattr(exc, 'message', exc)}") from exc
    try:
        return [(key, *await _part_bytes(value, key, limit)) for key, value in form.multi_items()]
    finally:
        await form.close()


def _read_parts(
    raw: list[tuple[str, bytes, str | None]], limits: DocumentLimits
) -> tuple[dict[str, Any], dict[str, tuple[bytes, str | None]]]:
    """Question parameters and whole-description parts from the form's fields (off the loop, in a parser process
    for a large form: a part is a document as costly to parse as a request body)."""
    params: dict[str, Any] = {}
    parts: dict[str, tuple[bytes, str | None]] = {}
    for key, data, filename in raw:
        if key.startswith("taskinfo."):
            text = data.strip()
            if text.startswith((b"http://", b"https://")) and b"\n" not in text:
                params[key] = text.decode("utf-8", "replace")  # a reference, not a document
            elif key in DESCRIPTION_PARTS:
                parts[key] = (data, filename)
            else:
                params[key] = _part_value(data, key, limits)
        else:
            params[key] = data.decode("utf-8", "replace")
    return params, parts


def _part_value(data: bytes, name: str, limits: DocumentLimits) -> Any:
    """A taskinfo part is a JSON or YAML document (or a plain string)."""
    try:
        return load_yaml(data, limits)
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


def _interfaces(plan: Plan, servicetype: str, endpoint: str) -> list[dict[str, Any]]:
    """One interface per place the task could run (site and flavor), however many start times each offers."""
    interfaces: dict[tuple[str, str], dict[str, Any]] = {}
    for offer in plan.offers:
        where = (offer.placement.site, offer.placement.flavor_name)
        interfaces.setdefault(
            where,
            {"servicetype": servicetype, "serviceinfo": {"endpoint": endpoint, "site": where[0], "flavor": where[1]}},
        )
    return list(interfaces.values())


async def _answer(request: Request, question: note2022.NoteQuestion, fmt: Format, caller: Caller) -> Response:
    settings = request.app.state.settings
    url = base_url(request)
    servicetype = note2022.service_type(question) or settings.broker_standard_id
    note2022.normalised_resources(question)  # a 400 naming a bad limit, before anything is planned
    if question.refusals and note2022.service_type(question):
        return _no(question, fmt, url, servicetype, question.refusals)
    offer_request, plan = await run_in_threadpool(_plan, request, question, caller)
    if plan is None:
        return _no(question, fmt, url, servicetype, [(400, f"unknown task type '{question.tasktype}'")])
    if not plan.offers:
        reasons = [(409, m.message) for m in plan.messages] or [(409, "no site can run this task")]
        return _no(question, fmt, url, servicetype, reasons)
    best = plan.offers[0]
    interfaces = _interfaces(plan, servicetype, f"{url}/offersets")
    resources = note2022.echo_resources(question, best.cores.min, best.memory_gib.min, best.schedule.available.duration)
    tree = note2022.answer_tree(True, servicetype, f"{url}/offersets", resources, [], interfaces)
    return respond(tree, fmt, root=note2022.ROOT_ANSWER)


async def get_accepts(request: Request) -> Response:
    fmt = response_format(request)
    caller = await caller_of(request)
    return await _answer(request, _question_from_params(request.query_params), fmt, caller)


async def _post_document(request: Request, fmt: Format, caller: Caller) -> Response:
    """A note task or lease document as printed in the note (JSON or YAML body)."""
    limit = request.app.state.settings.max_body_bytes
    tree, _body_fmt, _body = await read_document(request, limit, note2022.ROOT_ANSWER)
    return await _answer(request, note2022.question_from_document(tree), fmt, caller)


DOCUMENT_TYPES = ("application/json", "text/json", "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


async def post_accepts(request: Request) -> Response:
    fmt = response_format(request)
    caller = await caller_of(request)
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() in DOCUMENT_TYPES or "+json" in content_type:
        return await _post_document(request, fmt, caller)
    if not content_type.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        raise UnsupportedMediaType(
            "POST /accepts takes multipart/form-data (a 'tasktype' part and 'taskinfo.*' parts), or a note task or "
            "lease document as JSON or YAML"
        )
    settings = request.app.state.settings
    raw = await _read_form(request, content_type, settings.max_body_bytes)
    limits, pool = document_limits(settings), parsers_for(request, sum(len(data) for _key, data, _name in raw))
    params, parts = await run_off_loop(limits.seconds, _read_parts, raw, limits, pool=pool)
    question = _question_from_params(params)
    question.described = await run_off_loop(limits.seconds, _describe, parts, pool=pool)
    return await _answer(request, question, fmt, caller)


routes = [
    Route("/accepts", get_accepts, methods=["GET"]),
    Route("/accepts", post_accepts, methods=["POST"]),
]

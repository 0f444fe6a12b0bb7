"""Every 4xx and 5xx answer is an error document valid against our error schema (JSON Schema and XSD) and against
the `ErrorDocument` published in `/openapi.yaml` — including the 5xx ones, provoked in-process with a planner
that fails."""

from __future__ import annotations

import asyncio
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import xmlschema
import yaml
from jsonschema import Draft202012Validator
from lxml import etree

from execplanner.api.app import create_app
from execplanner.config import Settings
from execplanner.errors import CloudError

REPO = Path(__file__).resolve().parents[2]
ACCEPT = {"json": "application/json", "yaml": "application/yaml", "xml": "application/xml"}


@cache
def _published_error_schema() -> Draft202012Validator:
    """`ErrorDocument` from the OpenAPI the service serves, with its local `$ref`s resolvable."""
    document = yaml.safe_load((REPO / "execplanner" / "api" / "openapi.yaml").read_text())
    schema = {**document["components"]["schemas"]["ErrorDocument"], "components": document["components"]}
    return Draft202012Validator(schema)


@cache
def _our_error_schema() -> Draft202012Validator:
    return Draft202012Validator(json.loads((REPO / "schemas" / "error.schema.json").read_text()))


@cache
def _xsd() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(REPO / "schemas" / "execplanner.xsd"))


def assert_error_document(content: bytes, fmt: str, status: int) -> None:
    if fmt == "xml":
        element = etree.fromstring(content)
        assert element.tag == "error"
        problems = [f"{e.path}: {e.reason}" for e in _xsd().iter_errors(element)]
        assert not problems, problems
        assert int(element.findtext("status")) == status
        return
    document: Any = json.loads(content) if fmt == "json" else yaml.safe_load(content)
    for validator in (_our_error_schema(), _published_error_schema()):
        problems = [e.message for e in validator.iter_errors(document)]
        assert not problems, problems
    assert document["status"] == status


class _Answer:
    def __init__(self, status: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code, self.headers, self.content = status, headers, content
        self.text = content.decode("utf-8", "replace")


def call(app, method: str, path: str, query: str = "", headers: dict[str, str] | None = None, body: bytes = b""):
    """One request through the app in process (its lifespan started and stopped around it): no server needed."""

    async def run() -> _Answer:
        sent: list[dict[str, Any]] = []
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
            "client": ("127.0.0.1", 5000),
            "server": ("127.0.0.1", 8080),
            "app": app,
        }
        chunks = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return chunks.pop(0) if chunks else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        async with app.router.lifespan_context(app):
            try:
                await app(scope, receive, send)
            except Exception:  # starlette re-raises an unexpected error after answering it, for servers to log
                if not sent:
                    raise
        start = next(m for m in sent if m["type"] == "http.response.start")
        content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return _Answer(start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, content)

    return asyncio.run(run())


class _FailingPlanner:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def __call__(self, request, holds, now, caller=None):  # noqa: ANN001 — the Planner protocol
        raise self.error


@pytest.mark.parametrize("fmt", list(ACCEPT))
@pytest.mark.parametrize(
    "error,status", [(RuntimeError("a bug"), 500), (CloudError("the site said no"), 502)], ids=["500", "502"]
)
def test_server_errors_are_valid_error_documents(tmp_path, fmt, error, status):
    app = create_app(Settings(data_dir=tmp_path, scheduler=False), planner=_FailingPlanner(error))
    answer = call(app, "GET", "/accepts", "tasktype=jupyter-notebook", {"Accept": ACCEPT[fmt]})
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(ACCEPT[fmt])
    assert_error_document(answer.content, fmt, status)
    assert "a bug" not in answer.text  # an unexpected error's text is not shown to the client


NOWHERE = "/offersets/00000000-0000-0000-0000-000000000000"
JSON = {"Content-Type": "application/json"}
TEXT = {"Content-Type": "text/plain"}
# status -> (method, path, query, extra headers, body); a 409 is provoked for real in tests/formats/test_schemas.py
CLIENT_ERRORS = {
    400: ("GET", "/accepts", "tasktype=jupyter-notebook&resources.minmemory=lots", {}, b""),
    404: ("GET", NOWHERE, "", {}, b""),
    405: ("PUT", "/offersets", "", {}, b""),
    413: ("POST", "/offersets", "", JSON, b"{" + b" " * 2_000_000 + b"}"),
    415: ("POST", "/accepts", "", TEXT, b"x"),
}


@pytest.mark.parametrize("fmt", list(ACCEPT))
@pytest.mark.parametrize("status", sorted(CLIENT_ERRORS))
def test_client_errors_are_valid_error_documents(tmp_path, fmt, status):
    app = create_app(Settings(data_dir=tmp_path, scheduler=False, max_body_bytes=1_000_000))
    method, path, query, headers, body = CLIENT_ERRORS[status]
    answer = call(app, method, path, query, {"Accept": ACCEPT[fmt], **headers}, body)
    assert answer.status_code == status, answer.text
    assert_error_document(answer.content, fmt, status)


def test_not_acceptable_is_a_json_error_document(tmp_path):
    app = create_app(Settings(data_dir=tmp_path, scheduler=False))
    answer = call(app, "GET", NOWHERE, "", {"Accept": "image/png"})
    assert answer.status_code == 406
    assert_error_document(answer.content, "json", 406)

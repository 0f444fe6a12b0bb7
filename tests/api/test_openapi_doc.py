"""The service's own OpenAPI document: it parses, is valid OpenAPI 3.1, and covers every endpoint we serve."""

from __future__ import annotations

import copy
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import execplanner.api

OPENAPI = Path(execplanner.api.__file__).with_name("openapi.yaml")
NO_VALIDATOR = "openapi-spec-validator is not installed"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

# Every endpoint the service promises, with its methods.
EXPECTED: dict[str, set[str]] = {
    "/offersets": {"post"},
    "/requests": {"post"},
    "/offersets/{uuid}": {"get"},
    "/sessions": {"post"},
    "/direct": {"post"},
    "/sessions/{uuid}": {"get", "post"},
    "/accepts": {"get", "post"},
    "/capabilities": {"get", "head"},
    "/availability": {"get", "head"},
    "/catalogue": {"get"},
    "/admin/catalogue/reload": {"post"},
    "/openapi.yaml": {"get"},
    "/healthz": {"get"},
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"external reference {ref}"
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def deref(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = resolve(document, node["$ref"])
    return node


def test_it_is_openapi_3_1_with_a_title_and_version(document: dict[str, Any]) -> None:
    assert str(document["openapi"]).startswith("3.1.")
    assert document["info"]["title"] == "execplanner"
    assert document["info"]["version"]


def test_it_validates_as_openapi_3_1(document: dict[str, Any]) -> None:
    validator = pytest.importorskip("openapi_spec_validator", reason=NO_VALIDATOR)
    validator.validate(document)


def test_the_validator_would_notice_a_broken_document(document: dict[str, Any]) -> None:
    validator = pytest.importorskip("openapi_spec_validator", reason=NO_VALIDATOR)
    broken = copy.deepcopy(document)
    broken["paths"]["/healthz"]["get"]["responses"] = "ok"
    with pytest.raises(Exception, match="responses|not of type|is not valid"):
        validator.validate(broken)


@pytest.mark.parametrize("path", sorted(EXPECTED))
def test_every_promised_endpoint_is_described_with_its_methods(document: dict[str, Any], path: str) -> None:
    assert path in document["paths"], f"{path} is missing"
    described = {method for method in document["paths"][path] if method in HTTP_METHODS}
    assert EXPECTED[path] <= described


@pytest.mark.parametrize("module", ["execplanner.api.vosi", "execplanner.api.broker", "execplanner.api.note"])
def test_every_route_the_code_serves_is_described(document: dict[str, Any], module: str) -> None:
    try:
        routes = importlib.import_module(module).routes
    except ImportError as exc:
        pytest.skip(f"{module} cannot be imported here: {exc}")
    for route in routes:
        assert route.path in document["paths"], f"{route.path} ({module}) is not described"
        described = {method.upper() for method in document["paths"][route.path] if method in HTTP_METHODS}
        assert set(route.methods or ()) - {"HEAD"} <= described, route.path


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    refs = [node["$ref"] for node in walk(document) if isinstance(node, dict) and "$ref" in node]
    assert refs
    for ref in refs:
        assert resolve(document, ref) is not None, ref


def test_operation_ids_are_unique_and_every_operation_has_responses(document: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    for path, method, operation in operations(document):
        assert operation["responses"], f"{method} {path} has no responses"
        assert operation.get("summary"), f"{method} {path} has no summary"


def test_templated_paths_declare_their_parameters(document: dict[str, Any]) -> None:
    for path, item in document["paths"].items():
        names = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        parameters = [deref(document, parameter) for parameter in item.get("parameters", [])]
        declared = {parameter["name"] for parameter in parameters if parameter["in"] == "path"}
        assert names == declared, path


def test_creating_endpoints_redirect_and_say_where_to(document: dict[str, Any]) -> None:
    redirecting = set()
    for path, method, operation in operations(document):
        if "303" in operation["responses"]:
            redirecting.add(path)
            response = deref(document, operation["responses"]["303"])
            assert "Location" in response["headers"], f"{method} {path}"
    dashboard_forms = {"/ui/ask", "/ui/sessions/{uuid}"}  # HTML forms redirect to the page they changed
    assert redirecting - dashboard_forms == {"/offersets", "/requests", "/sessions", "/direct"}


def test_errors_are_error_documents(document: dict[str, Any]) -> None:
    error_ref = "#/components/schemas/ErrorDocument"
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            if not (status == "default" or str(status)[0] in "45"):
                continue
            body = deref(document, response).get("content", {})
            for media_type in ("application/json", "application/yaml", "application/xml"):
                if media_type in body:
                    assert body[media_type]["schema"] == {"$ref": error_ref}, f"{method} {path} {status}"


def test_the_error_document_has_the_service_shape(document: dict[str, Any]) -> None:
    """Flat `{status, title, messages}` in JSON and YAML, root `error` in XML — as api/errors.py writes it."""
    schema = document["components"]["schemas"]["ErrorDocument"]
    assert set(schema["required"]) == {"status", "title", "messages"}
    assert schema["xml"]["name"] == "error"
    message = deref(document, schema["properties"]["messages"]["items"])
    assert {"level", "time", "template", "values", "message"} <= set(message["properties"])


def test_vosi_and_probes_are_anonymous_and_reload_needs_a_token(document: dict[str, Any]) -> None:
    for path in ("/capabilities", "/availability", "/openapi.yaml", "/healthz"):
        for method, operation in document["paths"][path].items():
            assert operation["security"] == [{}], f"{method} {path}"
    assert document["paths"]["/admin/catalogue/reload"]["post"]["security"] == [{"bearerToken": []}]
    assert "bearerToken" in document["components"]["securitySchemes"]


def test_both_update_forms_are_described(document: dict[str, Any]) -> None:
    update = document["components"]["schemas"]["UpdateRequest"]
    forms = [deref(document, form) for form in update["oneOf"]]
    assert any("update" in form.get("properties", {}) for form in forms)
    flat = deref(document, document["components"]["schemas"]["PhaseUpdate"])
    assert set(flat["properties"]["value"]["enum"]) == {"ACCEPTED", "REJECTED", "CANCELLED"}


def test_accepts_answer_has_both_spellings_of_the_verdict(document: dict[str, Any]) -> None:
    answer = document["components"]["schemas"]["AcceptsAnswer"]
    assert {"reponseword", "responseword", "servicetype", "serviceinfo"} <= set(answer["required"])
    reasons = answer["properties"]["reponseinfo"]["properties"]["reasons"]["items"]
    assert set(reasons["required"]) == {"httpcode", "text"}


def test_no_enum_was_turned_into_booleans_by_yaml(document: dict[str, Any]) -> None:
    """YAML 1.1 reads a bare YES/NO as a boolean; every enum here is a list of strings."""
    for node in walk(document):
        if isinstance(node, dict) and "enum" in node:
            assert all(isinstance(value, str) for value in node["enum"]), node["enum"]


def test_descriptions_name_the_exact_schemas(document: dict[str, Any]) -> None:
    text = OPENAPI.read_text(encoding="utf-8")
    for name in (
        "offerset-request.schema.json",
        "offerset-response.schema.json",
        "session.schema.json",
        "update-request.schema.json",
        "error.schema.json",
        "accepts-response.schema.json",
        "catalogue.schema.json",
    ):
        assert f"schemas/{name}" in text, name

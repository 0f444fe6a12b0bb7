"""The lists, the dashboard, /docs and /metrics are described in /openapi.yaml like every other endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import execplanner.api
from execplanner.api import dashboard, docs, lists
from execplanner.api import metrics as metrics_api

OPENAPI = Path(execplanner.api.__file__).with_name("openapi.yaml")
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture(scope="module")
def paths() -> dict:
    return yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))["paths"]


@pytest.mark.parametrize(
    "routes",
    [lists.routes, dashboard.routes, metrics_api.routes, docs.routes()],
    ids=["lists", "dashboard", "metrics", "docs"],
)
def test_every_route_is_described_with_its_methods(paths: dict, routes: list) -> None:
    for route in routes:
        if not hasattr(route, "methods"):  # the Swagger UI files under /docs/assets
            continue
        assert route.path in paths, f"{route.path} is not described"
        described = {method.upper() for method in paths[route.path] if method in HTTP_METHODS}
        assert set(route.methods or ()) - {"HEAD"} <= described, route.path


def test_list_parameters_are_the_ones_the_code_reads(paths: dict) -> None:
    document = yaml.safe_load(OPENAPI.read_text(encoding="utf-8"))
    for path in ("/sessions", "/offersets"):
        refs = [p["$ref"].rsplit("/", 1)[1] for p in paths[path]["get"]["parameters"]]
        names = {document["components"]["parameters"][ref]["name"] for ref in refs}
        assert names == set(lists.PARAMETERS)

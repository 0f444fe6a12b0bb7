"""`GET /docs`: the OpenAPI description (`/openapi.yaml`) rendered for people by Swagger UI.

Swagger UI's files come from the `swagger-ui-py` package on PyPI and are served by this service under
`/docs/assets/`, so the page works offline and loads nothing from a CDN; the page's own script is ours, in
`static/docs.js`, so the page needs no inline script.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from execplanner.errors import ExecPlannerError

PAGE = Path(__file__).with_name("static") / "docs.html"


def swagger_ui_assets() -> Path:
    """Where the installed swagger-ui-py keeps Swagger UI's built files (found without importing it)."""
    spec = importlib.util.find_spec("swagger_ui")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        static = Path(location) / "static"
        if (static / "swagger-ui-bundle.js").is_file():
            return static
    raise ExecPlannerError("the swagger-ui-py package is not installed; GET /docs needs it (pip install swagger-ui-py)")


async def docs_page(request: Request) -> Response:
    return FileResponse(PAGE, media_type="text/html; charset=utf-8")


def routes() -> list[Route | Mount]:
    """Built when the app is, so a missing asset package stops start-up with the reason, not at first visit."""
    return [
        Route("/docs", docs_page, methods=["GET"]),
        Mount("/docs/assets", app=StaticFiles(directory=swagger_ui_assets()), name="docs-assets"),
    ]

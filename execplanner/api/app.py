"""The application factory: `create_app(settings)` builds the service; nothing connects at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from execplanner.api import broker, note

try:  # TEMPORARY until vosi.py lands
    from execplanner.api import vosi
except ImportError:  # pragma: no cover
    vosi = None  # type: ignore[assignment]
from execplanner.api.errors import HANDLERS
from execplanner.config import Settings
from execplanner.lifecycle import scheduler
from execplanner.planner.placeholder import placeholder_planner
from execplanner.planner.plan import Planner
from execplanner.store.database import Store

log = logging.getLogger("execplanner")

OPENAPI = Path(__file__).with_name("openapi.yaml")


async def openapi_document(request: Request) -> Response:
    return Response(OPENAPI.read_bytes(), media_type="application/yaml")


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def create_app(settings: Settings, *, planner: Planner | None = None) -> Starlette:
    """Build the service. The store opens, and the scheduler starts, when the app starts."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.store = Store.open(settings.database_url)
        app.state.started_at = datetime.now(UTC).replace(microsecond=0)
        stop = asyncio.Event()
        task = (
            asyncio.create_task(scheduler.run(app.state.store, settings.scheduler_interval, stop))
            if settings.scheduler
            else None
        )
        log.info("service_started database=%s", app.state.store.engine.url.render_as_string(hide_password=True))
        try:
            yield
        finally:
            stop.set()
            if task is not None:
                await task
            app.state.store.close()
            log.info("service_stopped")

    routes = [
        *broker.routes,
        *note.routes,
        *(vosi.routes if vosi else []),
        Route("/openapi.yaml", openapi_document, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=HANDLERS)  # type: ignore[arg-type]
    app.state.settings = settings
    app.state.planner = planner or placeholder_planner
    app.state.health = lambda: (True, [])
    return app

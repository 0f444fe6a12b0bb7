"""The application factory: `create_app(settings)` builds the service; nothing connects at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from execplanner.api import broker, dashboard, docs, health, lists, note, vosi
from execplanner.api import catalogue as catalogue_api
from execplanner.api import metrics as metrics_api
from execplanner.api.caller import AuthenticatedHeader, verifier_for
from execplanner.api.catalogue import LiveCatalogue
from execplanner.api.documents import parser_pool
from execplanner.api.errors import HANDLERS
from execplanner.api.hosts import AllowedHosts
from execplanner.api.observe import Observed
from execplanner.booking import OfferSetWriter
from execplanner.config import Settings
from execplanner.errors import ExecPlannerError
from execplanner.formats.schemas import use_schema_dir, xsd
from execplanner.lifecycle import scheduler
from execplanner.lifecycle.credentials import CredentialSource
from execplanner.lifecycle.wiring import launch_wiring
from execplanner.planner.federation import FederationPlanner
from execplanner.planner.plan import Planner
from execplanner.store.database import Store

log = logging.getLogger("execplanner")

OPENAPI = Path(__file__).with_name("openapi.yaml")
STATIC = Path(__file__).with_name("static")


async def openapi_document(request: Request) -> Response:
    return Response(OPENAPI.read_bytes(), media_type="application/yaml")


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def _reload_on_sighup(app: Starlette) -> None:
    """SIGHUP reloads the catalogue off the event loop; a bad file is logged and the old one kept."""

    def reload() -> None:
        try:
            app.state.catalogue.reload()
        except ExecPlannerError as exc:
            log.error("catalogue_reload_failed error=%s", exc.message)

    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGHUP, lambda: loop.run_in_executor(None, reload))
    except (RuntimeError, ValueError, NotImplementedError):
        log.debug("sighup_unavailable (not the main thread)")


def _middleware(settings: Settings) -> list[Middleware]:
    """Host checking first (links follow the Host header when no base URL is set), then the authenticated-caller
    header, which only means something when tokens are checked."""
    stack = [Middleware(AllowedHosts, hosts=settings.hosts)]
    if settings.issuers:
        stack.append(Middleware(AuthenticatedHeader))
    return stack


def create_app(
    settings: Settings, *, planner: Planner | None = None, credentials: CredentialSource | None = None
) -> Starlette:
    """Build the service: the catalogue loads now (a bad one stops start-up with the reason); the store opens,
    and the scheduler and the lifecycle driver start, when the app starts. `credentials` are what the driver
    launches with (default: from the settings)."""
    live = LiveCatalogue(settings.catalogue)
    use_schema_dir(settings.schema_dir)
    xsd()  # refuse to start without the schema that incoming XML is checked against
    launching = launch_wiring(settings, live, credentials)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.store = Store.open(settings.database_url, connections=settings.database_connections)
        app.state.started_at = datetime.now(UTC).replace(microsecond=0)
        expiry = (
            scheduler.Scheduler(app.state.store, settings.scheduler_interval, app.state.scheduler_status)
            if settings.scheduler
            else None
        )
        app.state.writer = OfferSetWriter(
            app.state.store, app.state.planner, expiring=expiry.expiring if expiry else None
        )
        app.state.writer.start()
        _reload_on_sighup(app)
        stop = asyncio.Event()
        task = asyncio.create_task(expiry.run(stop)) if expiry is not None else None
        driving = launching.start(app.state.store, stop) if settings.scheduler else None
        log.info("service_started database=%s", app.state.store.engine.url.render_as_string(hide_password=True))
        try:
            yield
        finally:
            stop.set()
            launching.stop()
            if task is not None:
                await task
            if driving is not None:
                await driving
            await run_in_threadpool(app.state.writer.stop)
            if app.state.parsers is not None:
                await run_in_threadpool(app.state.parsers.close)
            app.state.store.close()
            log.info("service_stopped")

    routes = [
        *broker.routes,
        *lists.routes,
        *dashboard.routes,
        *note.routes,
        *vosi.routes,
        *catalogue_api.routes,
        *metrics_api.routes,
        *docs.routes(),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
        Route("/openapi.yaml", openapi_document, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=HANDLERS,
        middleware=[Middleware(Observed), *_middleware(settings)],  # request id, log line, metrics around all
    )
    app.state.settings = settings
    app.state.catalogue = live
    app.state.planner = planner or FederationPlanner(live, settings.default_vo, settings.max_offers)
    app.state.verifier = verifier_for(settings)
    app.state.health = lambda: health.service_health(lambda: getattr(app.state, "store", None), live, datetime.now(UTC))
    app.state.scheduler_status = scheduler.SchedulerStatus()  # lag and counts, for /metrics
    app.state.launching = launching
    app.state.parsers = parser_pool(settings)  # processes start when a large body first needs one
    return app

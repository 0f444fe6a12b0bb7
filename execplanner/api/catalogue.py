"""The live catalogue: loaded at start, swapped atomically on reload (SIGHUP or the admin endpoint) so
requests in flight finish on the catalogue they began with, and served at `GET /catalogue` for ESAP."""

from __future__ import annotations

import gc
import hmac
import ipaddress
import logging
import threading
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from execplanner.api.documents import respond, response_format
from execplanner.catalogue import Catalogue, default_catalogue_path
from execplanner.errors import CatalogueError, Forbidden

log = logging.getLogger("execplanner.catalogue")


def _settle() -> None:
    """Move the catalogue's (many, long-lived) objects out of the collector's sight: a large catalogue would
    otherwise make every full collection — a pause for every request in flight — walk all of it."""
    gc.collect()
    gc.freeze()


class LiveCatalogue:
    """The catalogue the planner reads now; `reload()` replaces it only once the new one has validated."""

    def __init__(self, path: Path | None) -> None:
        self.path = path or default_catalogue_path()
        self._lock = threading.Lock()
        self._current = Catalogue.load(self.path)
        _settle()
        log.info("catalogue_loaded path=%s sites=%d", self.path, len(self._current.sites))

    def __call__(self) -> Catalogue:
        return self._current

    def reload(self) -> Catalogue:
        with self._lock:
            fresh = Catalogue.load(self.path)
            self._current = fresh
        _settle()
        log.info("catalogue_reloaded path=%s sites=%d", self.path, len(fresh.sites))
        return fresh


async def get_catalogue(request: Request) -> Response:
    fmt = response_format(request)
    catalogue: Catalogue = request.app.state.catalogue()
    return respond(catalogue.to_document(), fmt, root="catalogue")


def _check_admin(request: Request) -> None:
    """With an admin token configured, require it; without one, accept only loopback callers."""
    token = request.app.state.settings.admin_token
    if token is not None:
        sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(sent.encode(), token.get_secret_value().encode()):
            raise Forbidden("the admin endpoints need the operator's admin token")
        return
    host = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise Forbidden("the admin endpoints answer only loopback callers unless an admin token is configured")


async def reload_catalogue(request: Request) -> Response:
    _check_admin(request)
    fmt = response_format(request)
    try:
        fresh = await run_in_threadpool(request.app.state.catalogue.reload)
    except CatalogueError as exc:
        raise CatalogueError(f"reload refused, the previous catalogue stays in use: {exc.message}") from exc
    summary = {
        "reloaded": True,
        "source": fresh.source,
        "generated_at": fresh.generated_at.isoformat(),
        "sites": len(fresh.sites),
    }
    return respond(summary, fmt, root="catalogue-reload")


routes = [
    Route("/catalogue", get_catalogue, methods=["GET"]),
    Route("/admin/catalogue/reload", reload_catalogue, methods=["POST"]),
]

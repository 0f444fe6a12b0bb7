"""`GET /metrics`: the Prometheus text exposition of execplanner's metrics (defined in execplanner/metrics.py).

Holds and the oldest overdue offer are read from the database at scrape time, so each replica reports the
federation-wide figures as they stand now; the scheduler's figures come from this process's loop
(`app.state.scheduler_status`). Anonymous like `/healthz`: it carries counts, never owners or tokens.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from execplanner import metrics
from execplanner.booking.listing import holds
from execplanner.lifecycle.scheduler import SchedulerStatus, overdue_seconds
from execplanner.model.capacity import Usage
from execplanner.store.database import Store


def _refresh_from_database(store: Store) -> None:
    now = datetime.now(UTC)
    metrics.OFFERS_OVERDUE.set(overdue_seconds(store, now))
    current = holds(store, now)
    metrics.HOLDS.clear()
    for (site, vo), usage in current.items():
        for resource, amount in zip(Usage.names(), usage.amounts(), strict=True):
            metrics.HOLDS.labels(site, vo, resource).set(amount)


def _refresh_scheduler(status: SchedulerStatus | None) -> None:
    last = REGISTRY.get_sample_value("execplanner_scheduler_last_pass_timestamp_seconds")
    metrics.SCHEDULER_IDLE.set(time.time() - last if last else -1)
    metrics.SCHEDULER_LAG.set(status.lag_seconds if status is not None else 0)


async def metrics_endpoint(request: Request) -> Response:
    try:
        await run_in_threadpool(_refresh_from_database, request.app.state.store)
    except Exception:  # noqa: BLE001 — a database that does not answer must not hide the other metrics
        metrics.HOLDS.clear()
        metrics.OFFERS_OVERDUE.set(float("nan"))  # not known: neither 0 nor the last value read
    _refresh_scheduler(getattr(request.app.state, "scheduler_status", None))
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


routes = [Route("/metrics", metrics_endpoint, methods=["GET"])]

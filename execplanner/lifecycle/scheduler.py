"""The background loop: expires offers on time and ends holds whose interval is over, whether or not anything
is launched, so capacity comes back by itself. Safe in many replicas at once: each pass claims a batch of due
rows with `FOR UPDATE SKIP LOCKED` (PostgreSQL), so replicas share the work instead of queueing on it, and every
phase change is still the conditional UPDATE of `transitions`."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection

from execplanner import metrics
from execplanner.lifecycle.transitions import apply_many
from execplanner.model.phase import Phase
from execplanner.store import records
from execplanner.store.database import Store

log = logging.getLogger("execplanner.scheduler")
BATCH = 500
EXPIRED = "offer not accepted before it expired"


@dataclass
class SchedulerStatus:
    """Plain values about the loop, for whoever reports them (a /metrics endpoint, a test, a log line)."""

    lag_seconds: float = 0.0  # how long after its `expires` the last pass expired its most overdue offer
    passes: int = 0
    expired: int = 0  # offers expired by this process since it started
    holds_ended: int = 0  # holds this process ended because their interval was over


def _now() -> datetime:
    return datetime.now(UTC)


def expire_due(store: Store, now: datetime | None = None, status: SchedulerStatus | None = None) -> int:
    """Expire every offer whose `expires` has passed, in batches; returns how many this call expired."""
    now = now or _now()
    total = 0
    while True:

        def batch(conn: Connection) -> tuple[int, datetime | None]:
            claimed = records.claim_due_offers(conn, now, BATCH)
            moved = apply_many(conn, [u for u, _ in claimed], Phase.OFFERED, Phase.EXPIRED, EXPIRED, now)
            return len(moved), min((e for _, e in claimed), default=None)

        count, oldest = store.run(batch)
        total += count
        if status is not None and oldest is not None:
            status.lag_seconds = max(status.lag_seconds, (_now() - oldest).total_seconds())
        if count < BATCH:
            return total


def end_overdue_holds(store: Store, now: datetime | None = None) -> int:
    """End every hold whose interval (to the end of releasing) is over; returns how many."""
    now = now or _now()
    total = 0
    while True:
        count = store.run(lambda conn: records.end_overdue_holds(conn, now, BATCH))
        total += count
        if count < BATCH:
            return total


def one_pass(store: Store, status: SchedulerStatus) -> None:
    status.lag_seconds = 0.0
    status.expired += expire_due(store, status=status)
    status.holds_ended += end_overdue_holds(store)
    status.passes += 1


async def run(store: Store, interval: float, stop: asyncio.Event, status: SchedulerStatus | None = None) -> None:
    """Run passes until `stop` is set; a failing pass is logged and the loop goes on."""
    status = status or SchedulerStatus()
    loop = asyncio.get_running_loop()
    # A thread of its own, as the launch driver has: in the shared request thread pool a pass queued behind
    # clients' requests, and under 500 clients offers expired up to 2.1 s after `expires` (issue #16.7).
    passes = cf.ThreadPoolExecutor(max_workers=1, thread_name_prefix="scheduler-pass")
    try:
        while not stop.is_set():
            try:
                with metrics.SCHEDULER_PASS_SECONDS.time():
                    await loop.run_in_executor(passes, one_pass, store, status)
                metrics.SCHEDULER_LAST_PASS.set_to_current_time()
            except Exception:  # noqa: BLE001 — the loop must survive a bad pass (e.g. database restarting)
                log.exception("scheduler_pass_failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval)
    finally:
        passes.shutdown(wait=False)

"""The background loop: expires offers on time. Safe in many replicas at once, because each change is a
conditional UPDATE (`... WHERE phase = 'OFFERED'`): the database hands each due offer to exactly one of them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool

from execplanner.errors import ExecPlannerError
from execplanner.lifecycle.transitions import apply
from execplanner.model.phase import Phase
from execplanner.store import records
from execplanner.store.database import Store

log = logging.getLogger("execplanner.scheduler")


def expire_due(store: Store, now: datetime | None = None) -> int:
    """Expire every offer whose `expires` has passed; returns how many this call expired."""
    now = now or datetime.now(UTC)
    with store.reading() as conn:
        due = records.due_offers(conn, now)
    expired = 0
    for uuid, _phase in due:
        try:
            with store.transaction() as conn:
                apply(conn, uuid, Phase.EXPIRED, "offer not accepted before it expired", now, expect=Phase.OFFERED)
            expired += 1
        except ExecPlannerError:
            continue  # accepted, rejected or expired by someone else in the meantime
    return expired


async def run(store: Store, interval: float, stop: asyncio.Event) -> None:
    """Run passes until `stop` is set; a failing pass is logged and the loop goes on."""
    while not stop.is_set():
        try:
            await run_in_threadpool(expire_due, store)
        except Exception:  # noqa: BLE001 — the loop must survive a bad pass (e.g. database restarting)
            log.exception("scheduler_pass_failed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval)

"""The background loop: expires offers on time and ends holds whose interval is over, whether or not anything
is launched, so capacity comes back by itself. Safe in many replicas at once: each pass claims a batch of due
rows with `FOR UPDATE SKIP LOCKED` (PostgreSQL), so replicas share the work instead of queueing on it, and every
phase change is still the conditional UPDATE of `transitions`.

On time (issue #16.7): the loop runs in a thread of its own, on a database connection of its own, first in
SQLite's writer queue, and sleeps until the next offer expires or hold ends rather than for a fixed interval
(`interval` is only the longest it sleeps: what another replica booked meanwhile is seen by then). The booking
writer tells it of offers it has just stored (`expiring`), so even an offer that expires sooner than `interval`
is expired on time. An expiry is stamped with the instant it is written, not the instant the pass began, so the
lag in the transitions is the lag there was."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection

from execplanner import metrics
from execplanner.lifecycle.transitions import apply_many
from execplanner.logs import FailureStreak
from execplanner.model.phase import Phase
from execplanner.store import records
from execplanner.store.database import Store

log = logging.getLogger("execplanner.scheduler")
BATCH = 500
EXPIRED = "offer not accepted before it expired"
# Passes begin at least this far apart: offers falling due within this of each other are expired in one pass,
# not one pass each (at 50 expiries a second, 1 ms apart, one pass each cost the loop 9 times the CPU), and work
# due but not claimed (another replica has it, or a client's accept holds the offer) is looked at again this soon.
GAP_SECONDS = 0.1
# Wake this long after the instant something falls due, not before it: the two clocks compared are not one.
SLACK_SECONDS = 0.002
# The longest one wait of the loop's thread: threading refuses a timeout past threading.TIMEOUT_MAX (about 292
# years; `inf` too) with OverflowError, which ended the thread, so a vast interval is waited out in these steps.
LONGEST_WAIT_SECONDS = 3600.0


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
    """Expire every offer whose `expires` has passed, in batches; returns how many this call expired. Without
    `now`, each batch claims what is due once its transaction has begun (the connection and, on SQLite, the
    write lock are its own) and is stamped with the instant it is written."""
    total = 0
    while True:

        def batch(conn: Connection) -> list[tuple[datetime, datetime]]:
            claimed = dict(records.claim_due_offers(conn, now or _now(), BATCH))
            at = now or _now()
            moved = apply_many(conn, list(claimed), Phase.OFFERED, Phase.EXPIRED, EXPIRED, at)
            return [(claimed[u], at) for u in moved]

        expired = store.run(batch)
        total += len(expired)
        done = _now()
        for expires, _ in expired:
            metrics.EXPIRY_LAG.observe(max(0.0, (done - expires).total_seconds()))
        if status is not None and expired:
            oldest = min(expires for expires, _ in expired)
            status.lag_seconds = max(status.lag_seconds, (done - oldest).total_seconds())
        if len(expired) < BATCH:
            return total


def end_overdue_holds(store: Store, now: datetime | None = None) -> int:
    """End every hold whose interval (to the end of releasing) is over; returns how many."""
    total = 0
    while True:
        count = store.run(lambda conn: records.end_overdue_holds(conn, now or _now(), BATCH))
        total += count
        if count < BATCH:
            return total


def next_due(store: Store) -> tuple[datetime | None, datetime | None]:
    """When the next offer expires and the next hold ends (either may be past): one read, which on SQLite
    does not wait for the writer."""
    with store.reading() as conn:
        return records.next_expiry(conn), records.next_hold_end(conn)


def overdue_seconds(store: Store, now: datetime) -> float:
    """How long past its expiry the oldest offer still OFFERED is, 0 when none is: read from the database, so it
    says whether any replica's scheduler is expiring offers, where this process's own figures cannot."""
    with store.reading() as conn:
        expiry = records.next_expiry(conn)
    return max(0.0, (now - expiry).total_seconds()) if expiry is not None else 0.0


def one_pass(store: Store, status: SchedulerStatus) -> datetime | None:
    """Expire the offers that are due and end the holds that are over, taking the write lock only when there is
    something to do; returns when the next offer expires or hold ends (past: due and left to someone else;
    None: nothing pending)."""
    status.lag_seconds = 0.0
    expiry, end = next_due(store)
    now = _now()
    due = False
    if expiry is not None and expiry <= now:
        status.expired += expire_due(store, status=status)
        due = True
    if end is not None and end <= now:
        status.holds_ended += end_overdue_holds(store)
        due = True
    if due:
        expiry, end = next_due(store)
    status.passes += 1
    return min((t for t in (expiry, end) if t is not None), default=None)


class Scheduler:
    """The loop of one process. `run` (on the event loop) starts it in a thread of its own and stops it when
    `stop` is set; `expiring` (any thread) says an offer was just stored that expires at a given instant."""

    def __init__(self, store: Store, interval: float, status: SchedulerStatus | None = None) -> None:
        self.store = store
        self.interval = interval
        self.status = status or SchedulerStatus()
        self._changed = threading.Condition()
        self._soonest = math.inf  # monotonic instant of the earliest expiry told since the current pass began
        self._stopping = False
        self._failures = FailureStreak(log, "scheduler_pass_failed")  # touched by the loop's thread only

    def expiring(self, at: datetime) -> None:
        """Wake for an offer that expires `at`, if that is before the next pass (the booking writer calls this
        once per batch it stores, with the batch's earliest expiry)."""
        due = time.monotonic() + (at - _now()).total_seconds() + SLACK_SECONDS
        with self._changed:
            if due < self._soonest:
                self._soonest = due
                self._changed.notify()

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify()

    async def run(self, stop: asyncio.Event) -> None:
        """Passes in a thread of its own (in the shared request thread pool a pass queued behind clients'
        requests, and under 500 clients offers expired up to 2.1 s late), until `stop` is set."""
        thread = threading.Thread(target=self.run_forever, name="scheduler", daemon=True)
        thread.start()
        try:
            await stop.wait()
        finally:
            self.stop()
            await asyncio.get_running_loop().run_in_executor(None, thread.join)

    def run_forever(self) -> None:
        """Passes until `stop()`, on a connection of the loop's own; a failing pass is logged and the loop goes on."""
        store = self.store.background()
        try:
            while True:
                began = time.monotonic()
                if not self._sleep_until(self._pass(store), not_before=began + GAP_SECONDS):
                    return
        finally:
            store.close()

    def _pass(self, store: Store) -> float:
        """One pass; returns the monotonic instant the next is due."""
        with self._changed:
            self._soonest = math.inf  # what was stored before the pass reads the database, the pass sees
        try:
            with metrics.SCHEDULER_PASS_SECONDS.time():
                upcoming = one_pass(store, self.status)
            metrics.SCHEDULER_LAST_PASS.set_to_current_time()
            self._failures.succeeded()
        except Exception:  # noqa: BLE001 — the loop must survive a bad pass (e.g. database restarting)
            metrics.PASS_FAILURES.labels("scheduler").inc()
            self._failures.failed()
            upcoming = None
        wait = self.interval
        if upcoming is not None:
            wait = min(wait, max(0.0, (upcoming - _now()).total_seconds() + SLACK_SECONDS))
        return time.monotonic() + wait

    def _sleep_until(self, instant: float, not_before: float) -> bool:
        """Sleep until `instant`, or an earlier expiry told meanwhile, but not before `not_before`; False once
        stopped."""
        with self._changed:
            while not self._stopping:
                left = max(min(instant, self._soonest), not_before) - time.monotonic()
                if left <= 0:
                    return True
                self._changed.wait(min(left, LONGEST_WAIT_SECONDS))
            return False

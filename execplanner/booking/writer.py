"""Group commit for offer sets: requests that arrive together are planned and stored in one transaction by one
writer thread, so concurrent clients share a capacity read, batched inserts and a commit instead of queueing
for the database one by one. Capacity stays exact: each request is planned against the holdings of all
earlier ones, in or out of its batch."""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from execplanner.booking.commitments import CommitmentsCache
from execplanner.booking.idempotency import Replayed
from execplanner.booking.offersets import Ask, Outcome, create_offersets
from execplanner.model.documents import OfferSet
from execplanner.planner.plan import Planner
from execplanner.store.database import Store

log = logging.getLogger("execplanner.booking")


Made = OfferSet | Replayed[OfferSet]  # a new offer set, or the one a retry's Idempotency-Key made before


@dataclass
class _Pending:
    ask: Ask
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Made]


def _settle(future: asyncio.Future[Made], result: Made | BaseException) -> None:
    if future.cancelled():
        return  # the client went away; its offer set is stored and expires like any other
    if isinstance(result, BaseException):
        future.set_exception(result)
    else:
        future.set_result(result)


def _settle_all(settled: list[tuple[asyncio.Future[Made], Made | BaseException]]) -> None:
    for future, result in settled:
        _settle(future, result)


class OfferSetWriter:
    """The one thread of this process that plans and stores offer sets."""

    def __init__(
        self,
        store: Store,
        planner: Planner,
        max_batch: int = 64,
        expiring: Callable[[datetime], None] | None = None,
    ) -> None:
        """`expiring` is told, after each batch is stored, when the earliest offer of the batch expires (the
        scheduler wakes for it)."""
        self._store = store
        self._planner = planner
        self._max_batch = max_batch
        self._expiring = expiring
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="offerset-writer", daemon=True)
        self._commitments = CommitmentsCache()  # the live holds between batches; only this thread touches it

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Finish what was submitted, then end the thread."""
        self._queue.put(None)
        self._thread.join()

    def enqueue(self, ask: Ask) -> asyncio.Future[Made]:
        """Queue one request now; the future settles on the running loop when its batch is stored."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Made] = loop.create_future()
        self._queue.put(_Pending(ask, loop, future))
        return future

    async def submit(self, ask: Ask) -> Made:
        return await self.enqueue(ask)

    def _next_batch(self) -> tuple[list[_Pending], bool]:
        """Block for one request, then take whatever else is waiting; True once asked to stop."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        while len(batch) < self._max_batch:
            try:
                pending = self._queue.get_nowait()
            except queue.Empty:
                break
            if pending is None:
                return batch, True
            batch.append(pending)
        return batch, False

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = self._next_batch()
            if not batch:
                continue
            results = self._store_batch([p.ask for p in batch])
            self._answer(batch, results)
            self._tell_expiry(results)

    def _tell_expiry(self, results: list[Outcome]) -> None:
        soonest = min((r.expires for r in results if isinstance(r, OfferSet) and r.expires), default=None)
        if soonest is not None and self._expiring is not None:
            try:
                self._expiring(soonest)
            except Exception:  # noqa: BLE001 — the scheduler's interval still finds the offers
                log.exception("expiry_notice_failed")

    @staticmethod
    def _answer(batch: list[_Pending], results: list[Outcome]) -> None:
        """One wake-up of each waiting event loop per batch (not one per request): each costs the loop a
        turn and a write to its self-pipe."""
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Made], Made | BaseException]]]
        by_loop = {}
        for pending, result in zip(batch, results, strict=True):
            by_loop.setdefault(pending.loop, []).append((pending.future, result))
        for loop, settled in by_loop.items():
            loop.call_soon_threadsafe(_settle_all, settled)

    def _store_batch(self, asks: list[Ask]) -> list[Outcome]:
        """One transaction for the batch; if it fails, each request again on its own, so one request the
        database refuses cannot take its neighbours' offers down with it."""
        try:
            return create_offersets(self._store, asks, self._planner, self._commitments)
        except Exception as exc:  # noqa: BLE001 — reported per request below
            if len(asks) == 1:
                log.error("offerset_failed error=%s", exc)
                return [exc]
            log.warning("offerset_batch_failed size=%d error=%s; storing one by one", len(asks), exc)
        return [result for ask in asks for result in self._store_batch([ask])]

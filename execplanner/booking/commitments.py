"""The offer-set writer's memory of what is held, kept between its transactions.

Reading every live hold and rebuilding every calendar for each batch costs time in proportion to the number of
live offers, which grows with the request rate. The writer instead keeps the holds (as `Commitments`) and the
holds' change counter it last saw; under the capacity lock it reads the counter again, and rereads the holds
only when someone else changed them since. What it books itself it adds in memory, after the commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from execplanner.planner.calendar import Commitments
from execplanner.store import records


class CommitmentsCache:
    """Used by one thread (the writer's), always inside a transaction that holds the capacity lock."""

    def __init__(self) -> None:
        self._committed: Commitments | None = None
        self._version: int | None = None

    def take(self, conn: Connection, now: datetime) -> tuple[Commitments, int]:
        """The live holds as of this transaction, and the counter they match. Until `keep` is called the cache
        is empty, so a transaction that fails or is retried leaves nothing stale behind."""
        version = records.capacity_version(conn)
        committed = self._committed if version == self._version else None
        self._committed = self._version = None
        if committed is None:
            committed = Commitments(records.live_holds(conn, now))
        return committed, version

    def keep(self, committed: Commitments, version: int) -> None:
        """After the commit: `committed` is what the database holds at counter `version`."""
        self._committed, self._version = committed, version

"""A floor for bench/offersets.py: the least a durable JSON offer path costs in this stack, with no planning, no
validation and no data model. A helper, not a benchmark.

Each POST is decoded (json.loads), handed to one writer thread that group-commits it as the service does (SQLite,
WAL, synchronous=NORMAL; one offer-set row holding the answer's bytes and four session rows holding a quarter each,
with an index on each table's lookup column), and answered 303 with the answer re-encoded (json.dumps), under the
uvicorn settings of the baseline. Whatever the service does beyond this (reading the document into its model,
planning against the calendar, holding capacity, rendering in three formats and two dialects) costs more.

Run: python bench/_floor_server.py ANSWER_FILE — prints `listening on <url>` once it accepts."""

from __future__ import annotations

import asyncio
import json
import queue
import sqlite3
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

from _common import serve_on_loopback
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ANSWER: Any = json.loads(Path(sys.argv[1]).read_bytes()) if len(sys.argv) > 1 else {}
STORED = json.dumps(ANSWER)
QUARTER = STORED[: len(STORED) // 4]
MAX_BATCH = 64  # as the service's offer-set writer

Pending = tuple[asyncio.AbstractEventLoop, "asyncio.Future[str]"]
_queue: queue.SimpleQueue[Pending] = queue.SimpleQueue()

SCHEMA = (
    "CREATE TABLE offersets (id TEXT PRIMARY KEY, owner TEXT, expires TEXT, document TEXT)",
    "CREATE INDEX offersets_expires ON offersets (expires)",
    "CREATE TABLE sessions (id TEXT PRIMARY KEY, offerset TEXT, phase TEXT, document TEXT)",
    "CREATE INDEX sessions_offerset ON sessions (offerset)",
)


def _write(path: Path) -> None:
    """The writer thread: take what is queued (up to MAX_BATCH), store it in one transaction, settle each."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    for statement in SCHEMA:
        connection.execute(statement)
    while True:
        batch = [_queue.get()]
        while len(batch) < MAX_BATCH:
            try:
                batch.append(_queue.get_nowait())
            except queue.Empty:
                break
        ids = [str(uuid.uuid4()) for _ in batch]
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany(
            "INSERT INTO offersets VALUES (?, 'anonymous', '2026-12-08T00:00:00Z', ?)",
            [(offerset, STORED) for offerset in ids],
        )
        connection.executemany(
            "INSERT INTO sessions VALUES (?, ?, 'OFFERED', ?)",
            [(str(uuid.uuid4()), offerset, QUARTER) for offerset in ids for _ in range(4)],
        )
        connection.execute("COMMIT")
        for (loop, future), offerset in zip(batch, ids, strict=True):
            loop.call_soon_threadsafe(future.set_result, offerset)


async def endpoint(request: Request) -> Response:
    json.loads(await request.body())
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()
    _queue.put((loop, future))
    offerset = await future
    headers = {"Location": f"/offersets/{offerset}", "Vary": "Accept"}
    return Response(json.dumps(ANSWER).encode(), status_code=303, media_type="application/json", headers=headers)


app = Starlette(routes=[Route("/offersets", endpoint, methods=["POST"])])


async def main() -> None:
    directory = Path(tempfile.mkdtemp(prefix="execplanner-floor-"))
    threading.Thread(target=_write, args=(directory / "floor.db",), daemon=True).start()
    await serve_on_loopback(app)


if __name__ == "__main__":
    asyncio.run(main())

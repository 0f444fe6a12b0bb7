"""A floor for bench/offersets.py: the least a durable JSON offer path costs in this stack, with no planning, no
validation and no data model. A helper, not a benchmark.

Each POST is decoded (json.loads), handed to one writer thread that group-commits it as the service does (batches of
up to 64 in one transaction: one offer-set row holding the answer's bytes and four session rows holding a quarter
each, with an index on each table's lookup column), and answered 303 with the answer re-encoded (json.dumps), under
the uvicorn settings of the baseline. Whatever the service does beyond this (reading the document into its model,
planning against the calendar, holding capacity, rendering in three formats and two dialects) costs more.

Two ways to store:
  SQLite (the default): a file in a temporary directory, WAL, synchronous=NORMAL, one process, as `execplanner serve`;
  PostgreSQL (--database URL): N uvicorn worker processes (--workers N) sharing the socket, each with its own writer
  thread and connection, committing with PostgreSQL's defaults (the commit waits for the WAL flush). Nothing is
  serialised between the workers: a real offer path would also have to share capacity between them.

Run: python bench/_floor_server.py ANSWER_FILE [--workers N] [--database postgresql://...] — prints
`listening on <url>` once it accepts."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import queue
import sqlite3
import sys
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from _common import serve_on_loopback, serve_workers_on_loopback
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

MAX_BATCH = 64  # as the service's offer-set writer
# Read from the environment, so that worker processes (which import this module afresh) store and answer the same.
ANSWER: Any = json.loads(Path(os.environ["FLOOR_ANSWER"]).read_bytes()) if "FLOOR_ANSWER" in os.environ else {}
STORED = json.dumps(ANSWER)
QUARTER = STORED[: len(STORED) // 4]

Pending = tuple[asyncio.AbstractEventLoop, "asyncio.Future[str]"]
_queue: queue.SimpleQueue[Pending] = queue.SimpleQueue()


def _schema(suffix: str) -> tuple[str, ...]:
    return (
        f"CREATE TABLE offersets{suffix} (id TEXT PRIMARY KEY, owner TEXT, expires TEXT, document TEXT)",
        f"CREATE INDEX offersets{suffix}_expires ON offersets{suffix} (expires)",
        f"CREATE TABLE sessions{suffix} (id TEXT PRIMARY KEY, offerset TEXT, phase TEXT, document TEXT)",
        f"CREATE INDEX sessions{suffix}_offerset ON sessions{suffix} (offerset)",
    )


def _rows(batch: list[Pending]) -> tuple[list[str], list[tuple[str, str]], list[tuple[str, str, str]]]:
    ids = [str(uuid.uuid4()) for _ in batch]
    return (
        ids,
        [(offerset, STORED) for offerset in ids],
        [(str(uuid.uuid4()), offerset, QUARTER) for offerset in ids for _ in range(4)],
    )


def _next_batch() -> list[Pending]:
    batch = [_queue.get()]
    while len(batch) < MAX_BATCH:
        try:
            batch.append(_queue.get_nowait())
        except queue.Empty:
            break
    return batch


def _settle(batch: list[Pending], ids: list[str]) -> None:
    for (loop, future), offerset in zip(batch, ids, strict=True):
        loop.call_soon_threadsafe(future.set_result, offerset)


def _write_sqlite(path: Path) -> None:
    """The writer thread on SQLite: take what is queued, store it in one transaction, settle each."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    for statement in _schema(""):
        connection.execute(statement)
    while True:
        batch = _next_batch()
        ids, offersets, sessions = _rows(batch)
        connection.execute("BEGIN IMMEDIATE")
        connection.executemany("INSERT INTO offersets VALUES (?, 'anonymous', '2026-12-08T00:00:00Z', ?)", offersets)
        connection.executemany("INSERT INTO sessions VALUES (?, ?, 'OFFERED', ?)", sessions)
        connection.execute("COMMIT")
        _settle(batch, ids)


def _write_postgres(url: str, suffix: str) -> None:
    """The writer thread of one worker on PostgreSQL: the same, into the tables its parent made."""
    import psycopg

    with psycopg.connect(url) as connection:
        while True:
            batch = _next_batch()
            ids, offersets, sessions = _rows(batch)
            with connection.transaction(), connection.cursor() as cursor:
                cursor.executemany(
                    f"INSERT INTO offersets{suffix} VALUES (%s, 'anonymous', '2026-12-08T00:00:00Z', %s)", offersets
                )
                cursor.executemany(f"INSERT INTO sessions{suffix} VALUES (%s, %s, 'OFFERED', %s)", sessions)
            _settle(batch, ids)


def _writer() -> Callable[[], None]:
    if "FLOOR_DATABASE" in os.environ:
        url, suffix = os.environ["FLOOR_DATABASE"], os.environ["FLOOR_SUFFIX"]
        return lambda: _write_postgres(url, suffix)
    directory = Path(tempfile.mkdtemp(prefix="execplanner-floor-"))
    return lambda: _write_sqlite(directory / "floor.db")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    threading.Thread(target=_writer(), daemon=True).start()  # in each worker process: its own writer
    yield


async def endpoint(request: Request) -> Response:
    json.loads(await request.body())
    loop = asyncio.get_running_loop()
    future: asyncio.Future[str] = loop.create_future()
    _queue.put((loop, future))
    offerset = await future
    headers = {"Location": f"/offersets/{offerset}", "Vary": "Accept"}
    return Response(json.dumps(ANSWER).encode(), status_code=303, media_type="application/json", headers=headers)


app = Starlette(routes=[Route("/offersets", endpoint, methods=["POST"])], lifespan=lifespan)


def _postgres_tables(url: str) -> Iterator[str]:
    """Make this run's tables (named after the process) and drop them when done."""
    import psycopg

    suffix = f"_floor_{os.getpid()}"
    with psycopg.connect(url, autocommit=True) as connection:
        for statement in _schema(suffix):
            connection.execute(statement)
    try:
        yield suffix
    finally:
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute(f"DROP TABLE IF EXISTS offersets{suffix}, sessions{suffix}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("answer", type=Path)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--database", help="a PostgreSQL URL (postgresql://...); SQLite when absent")
    args = parser.parse_args()
    if args.workers > 1 and not args.database:
        sys.exit("several workers need --database: SQLite is written by one process, as the service's")
    os.environ["FLOOR_ANSWER"] = str(args.answer.resolve())
    global ANSWER, STORED, QUARTER
    ANSWER = json.loads(args.answer.read_bytes())
    STORED = json.dumps(ANSWER)
    QUARTER = STORED[: len(STORED) // 4]
    if not args.database:
        asyncio.run(serve_on_loopback(app))
        return
    os.environ["FLOOR_DATABASE"] = args.database.replace("postgresql+psycopg://", "postgresql://", 1)
    with contextlib.contextmanager(_postgres_tables)(os.environ["FLOOR_DATABASE"]) as suffix:
        os.environ["FLOOR_SUFFIX"] = suffix
        serve_workers_on_loopback("_floor_server:app", args.workers)


if __name__ == "__main__":
    main()

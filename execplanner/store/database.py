"""Opening the database: engine, SQLite pragmas, migrations, transactions."""

from __future__ import annotations

import contextlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from execplanner import _json
from execplanner.errors import ExecPlannerError
from execplanner.logs import first_line

log = logging.getLogger("execplanner.store")
T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"
READ_ONLY = "execplanner_read_only"
_CREDENTIALS = ((re.compile(r"://[^/@\s]*@"), "://…@"), (re.compile(r"(?i)(password\s*=\s*)\S+"), r"\1…"))
# JSON columns are written and read with orjson: the session documents are the bulk of every write.
_JSON = {"json_serializer": _json.dumps_text, "json_deserializer": _json.loads}


# PostgreSQL's serialization_failure and deadlock_detected: the transaction did nothing and may simply be run again.
RETRYABLE = frozenset({"40001", "40P01"})
ATTEMPTS = 6
# The longest the background store's transactions wait for a row lock (PostgreSQL). Expiring gives holds back,
# which moves the one capacity counter row: a transaction that moved it and then hung (a replica frozen, a client
# idle in transaction) held every replica's scheduler, and a service stopping waited on it, for as long.
BACKGROUND_LOCK_TIMEOUT_MS = 5000


def is_retryable(exc: BaseException) -> bool:
    """True for a conflict the database resolved by aborting this transaction (deadlock, serialisation)."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in RETRYABLE


def _no_connection(exc: DBAPIError) -> bool:
    """A connection that could not be made at all (e.g. PostgreSQL's `too many clients`): a 503, not a 500."""
    return getattr(exc.orig, "sqlstate", None) in {"53300", "57P03", "08001", "08006"} or "connection failed" in str(
        exc.orig
    )


class StoreError(ExecPlannerError):
    """The database could not be opened or answered with an error."""

    status = 503
    exit_code = 69  # sysexits EX_UNAVAILABLE


def _first_line(exc: BaseException) -> str:
    """The driver's own words, without SQLAlchemy's statement echo and background link."""
    cause = getattr(exc, "orig", None) or exc
    return first_line(cause) or type(cause).__name__


def _configure_sqlite(engine: Engine) -> None:
    """Writers take the database lock at BEGIN, so capacity checks and their writes are one atomic step."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        reading = connection.get_execution_options().get(READ_ONLY, False)
        connection.exec_driver_sql("BEGIN" if reading else "BEGIN IMMEDIATE")


def _limit_lock_waits(engine: Engine) -> None:
    """Each connection waits at most BACKGROUND_LOCK_TIMEOUT_MS for a lock (PostgreSQL), whatever else the URL's
    `options` set."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET lock_timeout = {BACKGROUND_LOCK_TIMEOUT_MS}")
        dbapi_connection.commit()


class WriterQueue:
    """SQLite's one writer at a time, for the threads of this process: they queue here in arrival order rather
    than spinning in SQLite's busy handler (other processes on the same file still use busy_timeout), except that
    a writer that writes again straight after releasing may take the lock back before the one it woke runs (3
    threads writing in a loop: waits up to 5.2 s; a strict hand-over cost 10% of the 500-client load). An urgent
    writer (the scheduler, whose lateness is an offer expiring late) goes before every ordinary one waiting, so
    it waits for the transaction in progress only, not for the queue of request writes behind it."""

    def __init__(self) -> None:
        mutex = threading.Lock()
        self._ordinary = threading.Condition(mutex)
        self._urgent = threading.Condition(mutex)
        self._held = False
        self._urgent_waiting = 0
        self._ordinary_waiting = 0

    @property
    def waiting(self) -> tuple[int, int]:
        """How many ordinary and how many urgent writers are waiting now."""
        with self._ordinary:
            return self._ordinary_waiting, self._urgent_waiting

    @contextmanager
    def hold(self, urgent: bool = False) -> Iterator[None]:
        self._acquire(urgent)
        try:
            yield
        finally:
            self._release()

    def _acquire(self, urgent: bool) -> None:
        if urgent:
            with self._urgent:
                self._urgent_waiting += 1
                try:
                    self._urgent.wait_for(lambda: not self._held)
                finally:
                    self._urgent_waiting -= 1
                self._held = True
            return
        with self._ordinary:
            self._ordinary_waiting += 1
            try:
                self._ordinary.wait_for(lambda: not self._held and not self._urgent_waiting)
            finally:
                self._ordinary_waiting -= 1
            self._held = True

    def _release(self) -> None:
        with self._ordinary:
            self._held = False
            if self._urgent_waiting:
                self._urgent.notify()
            else:
                self._ordinary.notify()


class Store:
    """One database, shared by every request handler and the scheduler of this process."""

    def __init__(self, engine: Engine, writers: WriterQueue | None = None, *, urgent: bool = False) -> None:
        self.engine = engine
        if engine.dialect.name == "sqlite":
            writers = writers or WriterQueue()
        self.writers = writers  # SQLite's writer queue (None on PostgreSQL)
        self._urgent = urgent

    def background(self) -> Store:
        """The same database for one background thread (the scheduler): a connection of its own, so that it
        never waits for a pool that request handlers have taken, and first in SQLite's writer queue. One of the
        `connections` that `open` was given is kept for it. Close it when the thread is done."""
        url = self.engine.url
        if self.engine.dialect.name == "sqlite" and url.database in {None, "", ":memory:"}:
            return Store(self.engine, self.writers, urgent=True)  # a private database: only this engine sees it
        engine = create_engine(url, pool_size=1, max_overflow=0, pool_pre_ping=True, **_JSON)
        if engine.dialect.name == "sqlite":
            _configure_sqlite(engine)
        else:
            _limit_lock_waits(engine)
        return Store(engine, self.writers, urgent=True)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, connections: int = 30) -> Store:
        try:
            parsed = make_url(url)
        except (SQLAlchemyError, ValueError) as exc:
            raise StoreError(f"invalid database URL: {_first_line(exc)}") from exc
        try:
            if parsed.get_backend_name() == "sqlite":
                if parsed.database and parsed.database != ":memory:":
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                # kept open: a connection past `pool_size` is opened (file, WAL, pragmas) and closed each time it is
                # used, and a burst of launches has many threads each writing a little
                engine = create_engine(url, pool_size=24, max_overflow=24, pool_timeout=60, **_JSON)
                _configure_sqlite(engine)
            else:
                shared = max(1, connections - 1)  # one for `background()`, the scheduler's
                kept = max(1, shared // 3)  # the server's max_connections is shared by every replica: a setting
                engine = create_engine(
                    url, pool_size=kept, max_overflow=shared - kept, pool_pre_ping=True, pool_timeout=60, **_JSON
                )
            store = cls(engine)
            if migrate:
                store.migrate()
        except (SQLAlchemyError, ImportError, CommandError, OSError) as exc:
            where = parsed.render_as_string(hide_password=True)
            raise StoreError(f"cannot open database {where}: {_first_line(exc)}") from exc
        return store

    @property
    def is_postgresql(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def migrate(self) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with self.engine.begin() as connection:
            if self.is_postgresql:
                # several replicas may start together: one migrates, the others wait for it
                connection.exec_driver_sql("SELECT pg_advisory_xact_lock(727372)")
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A read-write transaction; on SQLite it holds the database's write lock from its start."""
        writing = self.writers.hold(self._urgent) if self.writers is not None else contextlib.nullcontext()
        with writing, self.engine.begin() as connection:
            yield connection

    def run(self, work: Callable[[Connection], T], *, attempts: int = ATTEMPTS) -> T:
        """`work` in one read-write transaction, run again (a bounded number of times, after a short random
        pause) when PostgreSQL aborted it to break a deadlock or a serialisation conflict: such an abort undid
        everything, so running it again is safe, and the client never sees the conflict."""
        for attempt in range(1, attempts + 1):
            try:
                with self.transaction() as connection:
                    return work(connection)
            except DBAPIError as exc:
                if exc.connection_invalidated or _no_connection(exc):
                    raise StoreError("the database is not answering (too busy or restarting); try again") from exc
                if not is_retryable(exc) or attempt == attempts:
                    raise
                log.info("transaction_retried attempt=%d sqlstate=%s", attempt, getattr(exc.orig, "sqlstate", ""))
                time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 — jitter, not security
        raise AssertionError("unreachable")

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only transaction: a consistent snapshot that does not wait for writers."""
        with self.engine.connect() as connection:
            connection = connection.execution_options(**{READ_ONLY: True})
            with connection.begin():
                yield connection

    def ping(self) -> None:
        """Ask the database for nothing, to learn whether it answers; `StoreError` says why not."""
        try:
            with self.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except SQLAlchemyError as exc:
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
            for pattern, blank in _CREDENTIALS:
                reason = pattern.sub(blank, reason)
            raise StoreError(f"the database does not answer: {reason[:300]}") from exc

    def close(self) -> None:
        self.engine.dispose()

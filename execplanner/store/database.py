"""Opening the database: engine, SQLite pragmas, migrations, transactions."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from execplanner import _json
from execplanner.errors import ExecPlannerError

MIGRATIONS = Path(__file__).parent / "migrations"
READ_ONLY = "execplanner_read_only"
# JSON columns are written and read with orjson: the session documents are the bulk of every write.
_JSON = {"json_serializer": _json.dumps_text, "json_deserializer": _json.loads}


class StoreError(ExecPlannerError):
    """The database could not be opened or answered with an error."""

    status = 503


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


class Store:
    """One database, shared by every request handler and the scheduler of this process."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite has one writer at a time: threads of this process queue here, fairly, rather than
        # spinning in SQLite's busy handler (other processes on the same file still use busy_timeout).
        self._writer = threading.Lock() if engine.dialect.name == "sqlite" else contextlib.nullcontext()

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Store:
        parsed = make_url(url)
        try:
            if parsed.get_backend_name() == "sqlite":
                if parsed.database and parsed.database != ":memory:":
                    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(url, pool_size=8, max_overflow=16, pool_timeout=60, **_JSON)
                _configure_sqlite(engine)
            else:
                engine = create_engine(url, pool_size=10, max_overflow=20, pool_pre_ping=True, pool_timeout=60, **_JSON)
            store = cls(engine)
            if migrate:
                store.migrate()
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot open database {parsed.render_as_string(hide_password=True)}: {exc}") from exc
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
        with self._writer, self.engine.begin() as connection:
            yield connection

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A read-only transaction: a consistent snapshot that does not wait for writers."""
        with self.engine.connect() as connection:
            connection = connection.execution_options(**{READ_ONLY: True})
            with connection.begin():
                yield connection

    def close(self) -> None:
        self.engine.dispose()

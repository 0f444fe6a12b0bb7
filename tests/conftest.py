"""Shared fixtures: a throwaway PostgreSQL database, and the service, in process or as a real process.

A real `execplanner serve` process (`service_factory`) is for what only a process shows: signals, SIGKILL,
replicas, the CLI, its log. Everything else talks HTTP to `create_app(settings)` served in a thread of the test
process (`app_factory`, and the shared `service`), which starts in milliseconds instead of seconds.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import functools
import os
import secrets
import shutil
import signal
import sys
from collections.abc import Iterator
from pathlib import Path


def _keep_bytecode() -> None:
    """Under PYTHONDONTWRITEBYTECODE (set on the machines this suite runs on), every test process compiled the
    project's sources again, and pytest rewrote every test module again: each xdist worker spent 3 of its 6 s of
    CPU collecting on that, and each `execplanner serve` a test starts 0.3 s of its 1.6 s. Here the bytecode goes
    to a cache in the virtualenv (`<venv>/pycache`, as PYTHONPYCACHEPREFIX, so the processes tests start find it
    too), never beside the sources: the tree stays as clean as the setting keeps it. Outside a virtualenv, or
    without the setting, nothing changes."""
    if not sys.dont_write_bytecode or sys.prefix == sys.base_prefix:
        return
    cache = str(Path(sys.prefix) / "pycache")
    sys.pycache_prefix, sys.dont_write_bytecode = cache, False
    os.environ["PYTHONPYCACHEPREFIX"] = cache
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


_keep_bytecode()  # before the imports below, so that the project's modules they load are cached too

import pytest  # noqa: E402
import requests  # noqa: E402
from support.builders import empty_store, opened_store, roomy  # noqa: E402
from support.servers import InProcessService, Service  # noqa: E402
from support.waiting import wait_for  # noqa: E402

# the simulated federation's fixtures (simcloud, simcloud_session, simcloud_fresh) for every test package, and
# `@pytest.mark.alone` (a test that runs beside no other test of the run, also under xdist)
pytest_plugins = ["support.simcloud", "support.alone"]

# PostgreSQL's max_connections (100) is shared by every worker of every suite on the machine: a test's server keeps
# its pool this small unless the test says otherwise (the setting's default, 30, is for production)
TEST_DATABASE_CONNECTIONS = "5"

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


@functools.cache
def _pg_available() -> str | None:
    """None if PostgreSQL answers, else why not; asked once per test process (a server that answered is expected to
    go on answering, and one that did not is not waited for again, up to 3 s a test)."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 — any failure means "no server to test against"
        return f"no PostgreSQL server answers on 127.0.0.1:5432 ({type(exc).__name__}: {exc})"


def _pg_url(name: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


class _ThrowawayDatabases:
    """The throwaway PostgreSQL databases of this test process (one xdist worker, or a serial run).

    Each is a copy (`CREATE DATABASE ... TEMPLATE`) of a template this process migrates once, through
    `Store.open` as a server does: a test's database is at the current schema with no rows, and its server's
    own migration step finds nothing to do (0.06 s instead of 0.15-0.9 s). One thread of the process's own makes
    the next test's database while this one runs (a copy takes 0.2-0.7 s under load) and drops each database once
    its test is over (0.03 s quiet, up to 3 s under load), so that no test waits for either; the template, the
    spare and anything still being dropped are gone when the session ends.
    """

    def __init__(self) -> None:
        self._template: str | None = None
        self._spare: concurrent.futures.Future[str] | None = None
        self._threads: dict[str, concurrent.futures.ThreadPoolExecutor] = {}

    @staticmethod
    def _admin(sql: str) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(sql)

    def _migrated_template(self) -> str:
        if self._template is None:
            from execplanner.store.database import Store

            name = f"execplanner_test_template_{secrets.token_hex(4)}"
            self._admin(f'CREATE DATABASE "{name}"')
            try:
                Store.open(_pg_url(name), connections=2).close()  # every connection to it closed: copies need that
            except BaseException:
                self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                raise
            self._template = name
        return self._template

    def _copy(self) -> str:
        name = f"execplanner_test_{secrets.token_hex(4)}"
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{self._migrated_template()}"')
        return name

    def _in_background(self, work: str) -> concurrent.futures.ThreadPoolExecutor:
        """One thread for copies, one for drops: the next copy never queues behind a slow drop."""
        if work not in self._threads:
            self._threads[work] = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=work)
        return self._threads[work]

    def create(self) -> str:
        """A new database: the spare made meanwhile (made here if that failed), and the next spare started."""
        self._migrated_template()  # in this thread: a failure to migrate is the test's error, said at once
        spare, self._spare = self._spare, None
        name = None
        if spare is not None:
            with contextlib.suppress(Exception):
                name = spare.result()
        name = name or self._copy()
        self._spare = self._in_background("pg-copy").submit(self._copy)
        return name

    def drop_later(self, name: str) -> None:
        self._in_background("pg-drop").submit(self._admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        if self._spare is not None:
            with contextlib.suppress(Exception):
                self.drop_later(self._spare.result())
            self._spare = None
        for thread in self._threads.values():
            thread.shutdown(wait=True)
        self._threads.clear()
        if self._template is not None:
            self._admin(f'DROP DATABASE IF EXISTS "{self._template}" WITH (FORCE)')
            self._template = None


_THROWAWAYS = _ThrowawayDatabases()


def pytest_sessionfinish(session: pytest.Session) -> None:
    _THROWAWAYS.close()
    _MIGRATED_SQLITE.close()


@contextlib.contextmanager
def _throwaway_database() -> Iterator[str]:
    """A PostgreSQL database of its own, at the current schema with no rows, dropped afterwards (skips the test if
    no server answers)."""
    reason = _pg_available()
    if reason:
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    name = _THROWAWAYS.create()
    try:
        yield _pg_url(name)
    finally:
        _THROWAWAYS.drop_later(name)


class _MigratedSqlite:
    """A SQLite database file at the current schema with no rows, migrated once per test process through
    `Store.open` as a server does; `copy_to(path)` puts a copy where a test's server would otherwise create and
    migrate one (0.01 s instead of 0.03-0.12 s a server)."""

    def __init__(self) -> None:
        self._file: Path | None = None

    def _migrated(self) -> Path:
        if self._file is None:
            import sqlite3
            import tempfile

            from execplanner.store.database import Store

            path = Path(tempfile.mkdtemp(prefix="execplanner-test-sqlite-")) / "execplanner.sqlite"
            Store.open(f"sqlite:///{path}", connections=2).close()
            with contextlib.closing(sqlite3.connect(path)) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the one file a copy takes
            self._file = path
        return self._file

    def copy_to(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self._migrated(), path)

    def close(self) -> None:
        if self._file is not None:
            shutil.rmtree(self._file.parent, ignore_errors=True)
            self._file = None


_MIGRATED_SQLITE = _MigratedSqlite()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database for the whole run (the shared service uses it)."""
    with _throwaway_database() as url:
        yield url


@pytest.fixture
def postgres_url_fresh() -> Iterator[str]:
    """A PostgreSQL database of its own for one test: at the current schema, no rows."""
    with _throwaway_database() as url:
        yield url


@pytest.fixture(scope="module")
def module_postgres_url() -> Iterator[str]:
    """A PostgreSQL database for one module (the servers its module-scoped fixtures share): at the current schema,
    no rows, as `postgres_url_fresh`."""
    with _throwaway_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of each kind with no rows, for one test: at the current schema, a copy of one migrated once per
    test process (`_MigratedSqlite`, `_ThrowawayDatabases`)."""
    if request.param == "sqlite":
        _MIGRATED_SQLITE.copy_to(tmp_path / "execplanner.sqlite")
        yield f"sqlite:///{tmp_path / 'execplanner.sqlite'}"
        return
    with _throwaway_database() as url:
        yield url


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of each kind with no rows, for one module (a module-scoped server's); as `database_url`."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("module-db") / "execplanner.sqlite"
        _MIGRATED_SQLITE.copy_to(path)
        yield f"sqlite:///{path}"
        return
    with _throwaway_database() as url:
        yield url


@pytest.fixture
def store(database_url: str) -> Iterator[object]:
    """An empty, migrated store of each kind (SQLite, PostgreSQL), closed after the test."""
    with opened_store(database_url) as opened:
        yield opened


@pytest.fixture(scope="module")
def _module_store(module_database_url: str) -> Iterator[object]:
    with opened_store(module_database_url) as opened:
        yield opened


@pytest.fixture
def emptied_store(_module_store: object) -> object:
    """`store` without a database of its own: one migrated store of each kind for the module, emptied before each
    test (`support.builders.empty_store`). For tests that only read and write rows, not the schema."""
    return empty_store(_module_store)  # type: ignore[arg-type]


def _server_env(catalogue: Path) -> dict[str, str]:
    """The settings every test's server starts with (a test's own come on top)."""
    return {"EXECPLANNER_CATALOGUE": str(catalogue), "EXECPLANNER_DATABASE_CONNECTIONS": TEST_DATABASE_CONNECTIONS}


@contextlib.contextmanager
def _servers(kind: type[Service | InProcessService], directory: Path, catalogue: Path, last_signal: int) -> Iterator:
    """`make(database=None, data_dir=None, **EXECPLANNER_settings)` for servers of `kind`; stopped afterwards."""
    started: list[Service | InProcessService] = []

    def make(database: str | None = None, data_dir: Path | None = None, **env: str) -> Service | InProcessService:
        env = {**_server_env(catalogue), **env}
        where = data_dir or directory / f"{kind.__name__.lower()}{len(started)}"
        if data_dir is None and database is None and "EXECPLANNER_DATABASE" not in env:
            _MIGRATED_SQLITE.copy_to(where / "execplanner.sqlite")  # its default database, made ready
        server = kind(data_dir=where, database=database, env=env)
        started.append(server)
        return server.start()

    try:
        yield make
    finally:
        for server in started:
            if server.running:
                server.stop(last_signal)


@pytest.fixture
def service_factory(tmp_path: Path, roomy_catalogue: Path) -> Iterator[type[Service]]:
    """Start real server processes of one's own; they use the roomy catalogue unless EXECPLANNER_CATALOGUE says
    otherwise. For signals, SIGKILL, replicas, the CLI and the log; anything else wants `app_factory`."""
    with _servers(Service, tmp_path, roomy_catalogue, signal.SIGKILL) as make:
        yield make


@pytest.fixture(scope="module")
def module_service_factory(tmp_path_factory: pytest.TempPathFactory, roomy_catalogue: Path) -> Iterator[type[Service]]:
    """`service_factory` for a module-scoped fixture: processes that several tests of a module look at without
    changing them (one start instead of one per test); SIGKILLed after the module's last test."""
    with _servers(Service, tmp_path_factory.mktemp("module-services"), roomy_catalogue, signal.SIGKILL) as make:
        yield make


@pytest.fixture
def app_factory(tmp_path: Path, roomy_catalogue: Path) -> Iterator[type[InProcessService]]:
    """Like `service_factory` (same arguments: database, data_dir, EXECPLANNER_* settings), but the service runs
    in this process: real HTTP on a loopback port, started in milliseconds. Stopped after the test."""
    with _servers(InProcessService, tmp_path, roomy_catalogue, signal.SIGTERM) as make:
        yield make


@pytest.fixture(scope="module")
def module_app_factory(
    tmp_path_factory: pytest.TempPathFactory, roomy_catalogue: Path
) -> Iterator[type[InProcessService]]:
    """`app_factory` for a module-scoped fixture: one in-process server the tests of a module share where none
    depends on a fresh state (each uses its own owners and requests); stopped after the module's last test."""
    with _servers(InProcessService, tmp_path_factory.mktemp("module-apps"), roomy_catalogue, signal.SIGTERM) as make:
        yield make


@pytest.fixture(scope="session")
def roomy_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled catalogue with every quota lifted: for tests of the protocol, not of capacity. Written as JSON:
    every server a test starts reads it, and the service reads JSON straight into the model (0.02 s) where YAML
    goes through PyYAML's Python constructor (0.15-0.3 s a server); the YAML path has tests of its own."""
    from execplanner.catalogue import Catalogue, default_catalogue_path

    path = tmp_path_factory.mktemp("catalogue") / "roomy.json"
    roomy(Catalogue.load(default_catalogue_path())).save(path)
    return path


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, roomy_catalogue: Path
) -> Iterator[InProcessService]:
    """One long-lived server per database backend, shared by the protocol tests (quotas lifted). It runs in this
    process (real HTTP on a loopback port); nothing that uses it needs a process of its own."""
    database = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    # nothing that uses it waits for the scheduler (offers expire after 300 s): a pass every 2 s, not 4 a second,
    # spares the run a busy idle server per backend and worker
    server = InProcessService(
        data_dir=tmp_path_factory.mktemp("service"),
        database=database,
        env={**_server_env(roomy_catalogue), "EXECPLANNER_SCHEDULER_INTERVAL": "2"},
    ).start()
    yield server
    server.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture(name="wait_for")
def wait_for_fixture():  # type: ignore[no-untyped-def]
    """`wait_for(predicate, timeout=10.0, interval=0.05)`: poll until truthy (tests/support/waiting.py)."""
    return wait_for

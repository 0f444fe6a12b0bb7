"""Shared fixtures: a throwaway PostgreSQL database, and real `execplanner serve` processes on loopback."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

# the simulated federation's fixtures (simcloud, simcloud_session, simcloud_fresh) for every test package
pytest_plugins = ["support.simcloud"]

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


def _pg_available() -> str | None:
    """None if PostgreSQL answers, else why not."""
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 — any failure means "no server to test against"
        return f"no PostgreSQL server answers on 127.0.0.1:5432 ({type(exc).__name__}: {exc})"


@contextlib.contextmanager
def _throwaway_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards (skips the test if no server answers)."""
    reason = _pg_available()
    if reason:
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    import psycopg

    name = f"execplanner_test_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database for the whole run (the shared service uses it)."""
    with _throwaway_database() as url:
        yield url


@pytest.fixture
def postgres_url_fresh() -> Iterator[str]:
    """An empty PostgreSQL database for one test."""
    with _throwaway_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of each kind, for one test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'execplanner.sqlite'}"
        return
    with _throwaway_database() as url:
        yield url


@dataclass
class Service:
    """A real `execplanner serve` process on a loopback port."""

    data_dir: Path
    database: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[str] | None = None
    base_url: str = ""
    port: int = 0

    def start(self, timeout: float = 30.0) -> Service:
        command = [
            sys.executable,
            "-m",
            "execplanner.cli",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        if self.database:
            command += ["--database", self.database]
        environment = {**os.environ, "PYTHONUNBUFFERED": "1", "EXECPLANNER_LOG_LEVEL": "WARNING", **self.env}
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment
        )
        deadline = time.monotonic() + timeout
        assert self.process.stdout is not None
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                break
            if "listening on" in line:
                self.base_url = line.strip().split("listening on ", 1)[1]
                self.port = int(self.base_url.rsplit(":", 1)[1])
                return self
        self.process.kill()
        _, err = self.process.communicate(timeout=10)
        raise RuntimeError(f"execplanner serve did not start: {err[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        assert self.process is not None
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            if self.process.stdout:
                self.process.stdout.close()
            if self.process.stderr:
                self.process.stderr.close()

    def url(self, path: str) -> str:
        return self.base_url + path


@pytest.fixture
def service_factory(tmp_path: Path, roomy_catalogue: Path) -> Iterator[type[Service]]:
    """Start servers of one's own; they use the roomy catalogue unless EXECPLANNER_CATALOGUE says otherwise."""
    started: list[Service] = []

    def make(database: str | None = None, data_dir: Path | None = None, **env: str) -> Service:
        env = {"EXECPLANNER_CATALOGUE": str(roomy_catalogue), **env}
        service = Service(data_dir=data_dir or tmp_path / f"data{len(started)}", database=database, env=env)
        started.append(service)
        return service.start()

    yield make  # type: ignore[misc]
    for service in started:
        if service.process and service.process.poll() is None:
            service.stop(signal.SIGKILL)


@pytest.fixture(scope="session")
def roomy_catalogue(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled catalogue with every quota lifted: for tests of the protocol, not of capacity."""
    from execplanner.catalogue import Catalogue, QuotaItem, default_catalogue_path

    catalogue = Catalogue.load(default_catalogue_path())
    for site in catalogue.sites:
        for site_vo in site.vos:
            if site_vo.quota is not None:
                for name in ("instances", "cores", "ram", "floating_ips"):
                    setattr(site_vo.quota, name, QuotaItem(limit=None, in_use=0))
    path = tmp_path_factory.mktemp("catalogue") / "roomy.yaml"
    catalogue.save(path)
    return path


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, roomy_catalogue: Path
) -> Iterator[Service]:
    """One long-lived server per database backend, shared by the protocol tests (quotas lifted)."""
    database = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    server = Service(
        data_dir=tmp_path_factory.mktemp("service"),
        database=database,
        env={"EXECPLANNER_CATALOGUE": str(roomy_catalogue)},
    ).start()
    yield server
    server.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll until `predicate()` is truthy; returns its value. A deadline, not a sleep."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


@pytest.fixture(name="wait_for")
def wait_for_fixture():  # type: ignore[no-untyped-def]
    return wait_for

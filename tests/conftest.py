"""Shared fixtures: a throwaway PostgreSQL database, and real `execplanner serve` processes on loopback."""

from __future__ import annotations

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

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
PG_ADMIN_URL = os.environ.get("EXECPLANNER_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available() -> str | None:
    """None if PostgreSQL answers, else why not."""
    try:
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 — any failure means "no server to test against"
        return f"no PostgreSQL server answers on 127.0.0.1:5432 ({type(exc).__name__}: {exc})"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped afterwards."""
    reason = _pg_available()
    if reason:
        pytest.skip(f"PostgreSQL tests skipped: {reason}")
    import psycopg

    name = f"execplanner_test_{secrets.token_hex(4)}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'execplanner.sqlite'}"
    return request.getfixturevalue("postgres_url")


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
def service_factory(tmp_path: Path) -> Iterator[type[Service]]:
    started: list[Service] = []

    def make(database: str | None = None, data_dir: Path | None = None, **env: str) -> Service:
        service = Service(data_dir=data_dir or tmp_path / f"data{len(started)}", database=database, env=env)
        started.append(service)
        return service.start()

    yield make  # type: ignore[misc]
    for service in started:
        if service.process and service.process.poll() is None:
            service.stop(signal.SIGKILL)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def service(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """One long-lived server per database backend, shared by the protocol tests."""
    database = None if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    server = Service(data_dir=tmp_path_factory.mktemp("service"), database=database).start()
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

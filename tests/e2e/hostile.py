"""Helpers for the hostile-client tests: documents that cost much to read, a /healthz prober, the server's RSS."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests
import sqlalchemy

NOTEBOOK = "https://www.purl.org/ivoa.net/EB/schema/types/executables/jupyter-notebook-1.0"


def yaml_alias_bomb(aliases: int, per_level: int = 5, executable_type: str = NOTEBOOK) -> bytes:
    """A YAML billion-laughs document of about 1 KB: `aliases` aliases, `per_level` to a level, each level
    `per_level` times the one below."""
    lines = [f'executable: {{type: "{executable_type}", location: "https://example.org/a.ipynb"}}']
    lines.append("l0: &l0 [" + ",".join(['"laugh-laugh-laugh-laugh"'] * 12) + "]")
    level, used = 0, 0
    while used < aliases:
        level += 1
        count = min(per_level, aliases - used)
        lines.append(f"l{level}: &l{level} [" + ", ".join([f"*l{level - 1}"] * count) + "]")
        used += count
    return ("\n".join(lines) + "\n").encode()


def xml_unknown_elements(count: int, pad: int = 0) -> bytes:
    """An offer-set request with `count` elements the schema does not know (8 bytes each, plus `pad`)."""
    item = b"<u>" + b"x" * pad + b"</u>" if pad else b"<u>x</u>"
    return b"<offers-request>" + item * count + b"</offers-request>"


class HealthProbe:
    """GETs /healthz back to back on a thread until stopped; keeps every latency."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with requests.Session() as session:
            while not self._stop.is_set():
                started = time.monotonic()
                answer = session.get(self.url, timeout=60)
                self.latencies.append(time.monotonic() - started)
                assert answer.status_code == 200

    @contextmanager
    def running(self) -> Iterator[HealthProbe]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(timeout=120)

    @property
    def worst(self) -> float:
        return max(self.latencies)


def rss_kib(pid: int) -> int:
    """Resident set size of a process, from /proc (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError(f"no VmRSS for process {pid}")


def largest_stored_request(service) -> int:
    """Bytes of the largest offer-set request document the service stored."""
    url = service.database or f"sqlite:///{service.data_dir / 'execplanner.sqlite'}"
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as conn:
            length = "octet_length(request::text)" if engine.dialect.name == "postgresql" else "length(request)"
            return conn.execute(sqlalchemy.text(f"SELECT coalesce(max({length}), 0) FROM offersets")).scalar_one()
    finally:
        engine.dispose()


@contextmanager
def serving(data_dir, catalogue, **env: str) -> Iterator[tuple[str, int, subprocess.Popen[str]]]:
    """A real `execplanner serve` on a free loopback port with extra settings, for a whole test module (the
    per-test `service_factory` would start one per test); yields (base URL, port, process)."""
    environment = {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "EXECPLANNER_LOG_LEVEL": "WARNING",
        "EXECPLANNER_CATALOGUE": str(catalogue),
        **env,
    }
    command = [sys.executable, "-m", "execplanner.cli", "serve", "--port", "0", "--data-dir", str(data_dir)]
    log = open(Path(data_dir) / "server.log", "w")  # noqa: SIM115 — closed below; a pipe nobody reads could fill
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, text=True, env=environment)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "listening on" in line:
                base = line.strip().split("listening on ", 1)[1]
                yield base, int(base.rsplit(":", 1)[1]), process
                return
        raise RuntimeError(f"execplanner serve did not start: {(Path(data_dir) / 'server.log').read_text()[-3000:]}")
    finally:
        process.kill()
        process.communicate(timeout=30)
        log.close()

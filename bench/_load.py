"""Shared bench machinery: start a server process on loopback, drive it with N client threads, report."""

from __future__ import annotations

import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests


@dataclass
class Result:
    name: str
    requests: int
    seconds: float
    latencies: list[float]

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def line(self) -> str:
        return (
            f"{self.name:<44} {self.throughput:8.1f} req/s   p50 {self.percentile(0.5) * 1000:7.2f} ms   "
            f"p99 {self.percentile(0.99) * 1000:7.2f} ms   mean {statistics.mean(self.latencies) * 1000:7.2f} ms"
        )


def start(
    command: list[str], env: dict[str, str] | None = None, marker: str = "listening on"
) -> tuple[subprocess.Popen[str], str]:
    """Start a server that prints `<marker> <url>` on stdout; return the process and its URL."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if marker in line:
            return process, line.strip().split(marker, 1)[1].strip()
        if not line and process.poll() is not None:
            break
    process.kill()
    sys.exit(f"server did not start: {' '.join(command)}")


def drive(
    name: str, call: Callable[[requests.Session], None], clients: int, per_client: int, warmup: int = 20
) -> Result:
    """Each client thread makes `per_client` calls on its own keep-alive session; latency per call."""
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(clients + 1)

    def client() -> None:
        mine: list[float] = []
        with requests.Session() as session:
            for _ in range(warmup):
                call(session)
            barrier.wait()
            for _ in range(per_client):
                began = time.perf_counter()
                call(session)
                mine.append(time.perf_counter() - began)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return Result(name, clients * per_client, time.perf_counter() - began, latencies)

"""Driving a server with Debian's `wrk` (a C load generator, so the client is not the bottleneck) and reading
its figures: requests per second and the latency percentiles of `--latency`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

POST_SCRIPT = Path(__file__).with_name("post.lua")
THREADS, CONNECTIONS = 2, 16
INSTALL_HINT = "wrk is not installed: `sudo apt-get install wrk` (Debian/Ubuntu), or see https://github.com/wg/wrk"

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50: float  # seconds
    p99: float
    requests: int
    errors: int  # socket errors and timeouts
    non_2xx_3xx: int


def wrk_path() -> str | None:
    return shutil.which("wrk")


def generator(seconds: float) -> str:
    return f"wrk -t{THREADS} -c{CONNECTIONS} -d{seconds:g}s"


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse(output: str) -> WrkResult:
    """wrk's report (with --latency) as figures."""
    percentiles = {int(p): _seconds(v) for p, v in re.findall(r"^\s+(\d+)%\s+([\d.]+\w+)\s*$", output, re.M)}
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    done = re.search(r"^\s+(\d+) requests in", output, re.M)
    if rate is None or done is None or 50 not in percentiles or 99 not in percentiles:
        raise ValueError(f"cannot read wrk's output:\n{output}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        requests_per_second=float(rate.group(1)),
        p50=percentiles[50],
        p99=percentiles[99],
        requests=int(done.group(1)),
        errors=sum(int(n) for n in errors.groups()) if errors else 0,
        non_2xx_3xx=int(bad.group(1)) if bad else 0,
    )


def run(url: str, body: Path, seconds: float, headers: dict[str, str] | None = None) -> WrkResult:
    """POST `body` to `url` for `seconds` from THREADS threads over CONNECTIONS keep-alive connections."""
    path = wrk_path()
    if path is None:
        raise RuntimeError(INSTALL_HINT)
    env = {**os.environ, "WRK_BODY": str(body)}
    for i, (name, value) in enumerate((headers or {}).items()):
        env[f"WRK_HEADER_{i}"] = f"{name}: {value}"
    command = [path, f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{seconds:g}s", "--latency", "-s", str(POST_SCRIPT), url]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds + 60, check=True)
    return parse(done.stdout)

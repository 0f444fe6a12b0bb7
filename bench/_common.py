"""The result shape every part of `make bench` (bench/run.py) returns, and how the table is printed and saved.

A `Row` is one figure beside its baseline measured in the same run, the generator that produced both, and the
verdict against the target (None when the figure has no target or could not be measured)."""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess

RESULTS = Path(__file__).with_name("results")


@dataclass
class Row:
    """One line of the table."""

    part: str  # e.g. "offersets"
    name: str  # what was measured, e.g. "POST /offersets YES req/s"
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_name: str = ""
    generator: str = ""  # what produced the figure and its baseline, e.g. "wrk -t2 -c16 -d10s"
    target: str = ""  # e.g. ">= 0.25x baseline"
    ok: bool | None = None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline


def missing(part: str, name: str, why: str) -> Row:
    """A row saying a figure is not measured (yet), and why."""
    return Row(part, name, None, "", note=why)


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if abs(value) >= 100:
        return f"{value:,.0f} {unit}".strip()
    return f"{value:.3g} {unit}".strip()


def table(rows: list[Row]) -> str:
    """The rows as an aligned text table."""
    header = ("part", "figure", "value", "baseline (same run)", "ratio", "target", "verdict", "generator / note")
    lines = [header]
    for row in rows:
        verdict = {True: "OK", False: "BELOW", None: ""}[row.ok]
        base = f"{_number(row.baseline, row.unit)} {row.baseline_name}".strip() if row.baseline is not None else ""
        ratio = f"{row.ratio:.2f}x" if row.ratio is not None else ""
        detail = "; ".join(x for x in (row.generator, row.note) if x)
        lines.append((row.part, row.name, _number(row.value, row.unit), base, ratio, row.target, verdict, detail))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    out = []
    for line in lines:
        out.append("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=False)) + "  " + line[-1])
        if line is header:
            out.append("-" * (sum(widths) + 2 * len(widths) + len(header[-1])))
    return "\n".join(out)


def save(rows: list[Row], context: dict[str, Any], directory: Path = RESULTS) -> Path:
    """Write the run as `<UTC timestamp>.json` and `latest.json`; returns the timestamped file."""
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    document = {
        "when": now.isoformat(timespec="seconds"),
        **context,
        "rows": [{**asdict(row), "ratio": row.ratio} for row in rows],
    }
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    path = directory / f"{now.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(text)
    (directory / "latest.json").write_text(text)
    return path


def _config(app: Any, workers: int = 1) -> uvicorn.Config:
    """The uvicorn settings `execplanner serve` uses (log level as the bench runs the service)."""
    return uvicorn.Config(
        app, host="127.0.0.1", port=0, workers=workers, log_level="warning", lifespan="on", server_header=False
    )


async def serve_on_loopback(app: Any) -> None:
    """Serve `app` on a free loopback port under the uvicorn settings `execplanner serve` uses, printing
    `listening on <url>` once it accepts: the bench's reference servers."""
    server = uvicorn.Server(_config(app))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    print(f"listening on http://127.0.0.1:{port}", flush=True)
    await task


def serve_workers_on_loopback(app: str, workers: int) -> None:
    """Serve the app named by `app` ("module:attribute") from `workers` uvicorn worker processes sharing one loopback
    socket (as `uvicorn --workers`), otherwise under the same settings; prints `listening on <url>` once the socket
    accepts (connections wait in its backlog until a worker takes them). Returns after SIGTERM has stopped them."""
    config = _config(app, workers)
    sock = config.bind_socket()
    sock.listen(config.backlog)  # the workers listen only once started: until then, connections wait, not fail
    print(f"listening on http://127.0.0.1:{sock.getsockname()[1]}", flush=True)
    Multiprocess(config, sockets=[sock]).run()


def tree_cpu_seconds(pid: int) -> float | None:
    """User + system CPU time used so far by a process and its living descendants (Linux /proc), or None where it
    cannot be read: a multi-worker server's CPU is spent in its children."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    theirs = [tree_cpu_seconds(int(child)) for child in children]
    return own + sum(t for t in theirs if t is not None)

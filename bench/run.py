"""`make bench`: every benchmark of the project in one table, each figure beside a baseline measured in the same
run, saved as JSON under bench/results/ (a timestamped file and latest.json). Not part of the test suite.

Parts (each also runnable alone): offersets.py (POST /offersets under wrk, YES and NO paths, against a bare
starlette endpoint), catalogue_build.py (building against the slowest site), catalogue_load.py (load and plan
time at 1×, 10×, 100× the EGI size), capacity.py and launch.py (when present; their printed figures are read).

Figures depend on the machine and what else runs on it: compare ratios, not absolute numbers, across machines.
Run: `python bench/run.py [--quick] [--only offersets,catalogue,...] [--seconds 10]`.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

import _wrk
from _common import Row, missing, save, table

HERE = Path(__file__).resolve().parent


def _offersets(args: argparse.Namespace) -> list[Row]:
    import offersets

    return offersets.rows(args.seconds)


def _catalogue_build(args: argparse.Namespace) -> list[Row]:
    import catalogue_build

    return catalogue_build.rows(4 if args.quick else 12)


def _catalogue(args: argparse.Namespace) -> list[Row]:
    import catalogue_load

    return catalogue_load.rows((1, 10) if args.quick else (1, 10, 100))


def _script(name: str, argv: list[str], timeout: float) -> tuple[str | None, str]:
    """Run bench/<name> alone; (its stdout, or None when absent or failed; why)."""
    path = HERE / name
    if not path.exists():
        return None, f"not yet: bench/{name} is not on this branch"
    done = subprocess.run(
        [sys.executable, str(path), *argv], capture_output=True, text=True, timeout=timeout, cwd=HERE.parent
    )
    if done.returncode != 0:
        return None, f"bench/{name} failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}"
    return done.stdout, ""


CAPACITY_FIGURES = [
    # (row name, pattern over capacity.py's output: value[, baseline], unit, baseline's name, target, least ratio
    # or value)
    (
        "polite clients: sessions admitted to start now",
        r"\(a\)\D*(\d+) sessions admitted.*?quotas allow (\d+)",
        "sessions",
        "the quotas allow at once",
        ">= 0.95x",
        0.95,
    ),
    ("never-rejecting clients: YES before the first NO", r"\(b\)\D*(\d+) offer sets", "offer sets", "", ">= 30", 30),
    (
        "now full: later starts where the calendar has room, YES",
        r"\(c\).*?of the (\d+) whose.*?room\), (\d+)",
        "requests",
        "requests with room",
        "1.00x",
        1.0,
    ),
]


def _capacity_row(name: str, pattern: str, unit: str, base: str, target: str, least: float, flat: str) -> Row:
    row = Row(
        "capacity", name, None, unit, None, base, "bench/capacity.py (python requests), bundled catalogue", target
    )
    found = re.search(pattern, flat)
    if found is None:
        row.note = "figure not found in bench/capacity.py's output"
        return row
    numbers = [float(g) for g in found.groups()]
    if pattern.startswith("\\(c"):  # (c) prints the baseline first
        numbers.reverse()
    row.value = numbers[0]
    row.baseline = numbers[1] if len(numbers) > 1 else None
    measured = row.ratio if row.baseline is not None else row.value
    row.ok = measured is not None and measured >= least
    return row


def _capacity(args: argparse.Namespace) -> list[Row]:
    argv = ["--limit", "40", "--later", "6"] if args.quick else []
    output, why = _script("capacity.py", argv, timeout=1800)
    if output is None:
        return [missing("capacity", "capacity figures", why)]
    flat = " ".join(output.split())
    return [_capacity_row(*figure, flat) for figure in CAPACITY_FIGURES]


def _launch_rows(boot: float, median: float, p95: float, burst: tuple[str, ...], first: bool) -> list[Row]:
    """The rows of one of bench/launch.py's runs: the first at a short boot (its burst a stress figure, not
    judged), the second at a realistic one (its burst judged against 2×)."""
    generator = "bench/launch.py (python requests), simulated federation"
    label = f"{boot:g} s boot"
    base = "simulated boot delay"
    count, _, together, one = burst
    rows = [
        Row("launch", f"ACCEPTED→AVAILABLE overhead, {label}, median", median, "s", boot, base, generator, "<= 1 s"),
        Row("launch", f"ACCEPTED→AVAILABLE overhead, {label}, p95", p95, "s", boot, base, generator, "<= 1 s"),
    ]
    rows[0].ok, rows[1].ok = median <= 1.0, p95 <= 1.0
    name = f"{count} concurrent launches, {label}"
    if first:
        stress = Row("launch", f"stress: {name}", float(together), "s", float(one), "one launch alone", generator)
        stress.note = f"CPU-bound on {os.cpu_count()} cores: not judged (the 2x target is judged at the realistic boot)"
        return [*rows, stress]
    judged = Row("launch", name, float(together), "s", float(one), "one launch alone", generator, "<= 2x")
    judged.ok = (judged.ratio or 0) <= 2.0
    return [*rows, judged]


def _launch(args: argparse.Namespace) -> list[Row]:
    quick = ["--launches", "3", "--concurrent", "5", "--realistic-boot", "3", "--realistic-launches", "2"]
    output, why = _script("launch.py", quick if args.quick else [], timeout=1800)
    name = "ACCEPTED→AVAILABLE overhead beyond the boot delay"
    if output is None:
        return [missing("launch", name, why)]
    flat = " ".join(output.split())
    overheads = re.findall(r"beyond a ([\d.]+) s boot: median ([\d.]+) s, p95 ([\d.]+) s", flat)
    bursts = re.findall(r"(\d+) concurrent launches at a ([\d.]+) s boot: ([\d.]+) s; one launch: ([\d.]+) s", flat)
    if not overheads or len(overheads) != len(bursts):
        return [Row("launch", name, None, "", note=f"output not understood: {flat[-300:]}")]
    rows: list[Row] = []
    for index, (found, burst) in enumerate(zip(overheads, bursts, strict=True)):
        boot, median, p95 = (float(g) for g in found)
        rows += _launch_rows(boot, median, p95, burst, first=index == 0)
    return rows


PARTS: dict[str, Callable[[argparse.Namespace], list[Row]]] = {
    "offersets": _offersets,
    "catalogue_build": _catalogue_build,
    "catalogue": _catalogue,
    "capacity": _capacity,
    "launch": _launch,
}


def _context(args: argparse.Namespace) -> dict[str, object]:
    return {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average": os.getloadavg(),
        },
        "wrk": _wrk.wrk_path(),
        "quick": args.quick,
        "seconds": args.seconds,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs and small sizes (a smoke run, not figures)")
    parser.add_argument("--seconds", type=float, default=None, help="wrk's duration per measurement (default 10)")
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated parts of: {', '.join(PARTS)}")
    args = parser.parse_args(argv)
    args.seconds = args.seconds or (2.0 if args.quick else 10.0)
    if _wrk.wrk_path() is None:
        print(f"NOTE: {_wrk.INSTALL_HINT}; the offer-set rows are skipped.", file=sys.stderr)
    rows: list[Row] = []
    for name in args.only.split(","):
        started = time.monotonic()
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        try:
            rows += PARTS[name](args)
        except Exception as exc:  # noqa: BLE001 — one part failing must not hide the others' figures
            traceback.print_exc()
            rows.append(missing(name, name, f"failed: {exc}"))
        print(f"[bench] {name} done in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
    print(table(rows))
    path = save(rows, _context(args))
    print(f"\nsaved {path.relative_to(HERE.parent)} and bench/results/latest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""POST /offersets: throughput and p50/p99 latency against a bare starlette endpoint returning a body of the
same size, measured in the same run on the same machine, with the bundled catalogue and a synthetic 100× one.

Targets (issue: the planner): ≥ 50 % of baseline throughput and p99 ≤ 2× the baseline's p99.
Quotas are lifted in both catalogues so every request is a full YES (planning, four offers, stored).
Run: `python bench/offersets.py [--clients 8] [--requests 150]`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
from pathlib import Path

import requests
from _load import drive, start

from execplanner.catalogue import Catalogue, QuotaItem, default_catalogue_path

ROOT = Path(__file__).resolve().parents[1]
REQUEST = (ROOT / "examples" / "requests" / "oligia-webtop.json").read_bytes()
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def roomy(catalogue: Catalogue, copies: int) -> Catalogue:
    """`copies` × the catalogue's sites, renamed, every quota lifted."""
    sites = []
    for copy in range(copies):
        for site in catalogue.sites:
            clone = site.model_copy(deep=True, update={"name": f"{site.name}-{copy}" if copies > 1 else site.name})
            for site_vo in clone.vos:
                if site_vo.quota:
                    for field in ("instances", "cores", "ram", "floating_ips"):
                        setattr(site_vo.quota, field, QuotaItem(limit=None))
            sites.append(clone)
    return catalogue.model_copy(update={"sites": sites})


def measure_service(catalogue_path: Path, workdir: Path, clients: int, per_client: int, name: str):
    env = {
        **os.environ,
        "EXECPLANNER_CATALOGUE": str(catalogue_path),
        "EXECPLANNER_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    process, url = start(
        [sys.executable, "-m", "execplanner.cli", "serve", "--port", "0", "--data-dir", str(workdir / name)], env
    )
    try:

        def call(session):
            answer = session.post(f"{url}/offersets", data=REQUEST, headers=HEADERS, allow_redirects=False)
            assert answer.status_code == 303 and b'"YES"' in answer.content, answer.text[:300]

        probe = requests.post(f"{url}/offersets", data=REQUEST, headers=HEADERS, allow_redirects=False)
        size = len(probe.content)
        return drive(name, call, clients, per_client), size
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def measure_baseline(size: int, clients: int, per_client: int, name: str):
    process, url = start(
        [sys.executable, str(Path(__file__).with_name("_baseline_server.py")), str(size)],
        {**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:

        def call(session):
            answer = session.post(f"{url}/offersets", data=REQUEST, headers=HEADERS, allow_redirects=False)
            assert answer.status_code == 303

        return drive(name, call, clients, per_client)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=120, help="per client and round")
    parser.add_argument("--rounds", type=int, default=3, help="baseline and service alternate; medians reported")
    args = parser.parse_args()
    bundled = Catalogue.load(default_catalogue_path())
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for label, copies in (("bundled catalogue", 1), ("100x catalogue", 100)):
            path = workdir / f"catalogue-{copies}.json"
            roomy(bundled, copies).save(path)
            throughput, p99 = [], []
            for round_ in range(args.rounds):
                ours, size = measure_service(
                    path, workdir, args.clients, args.requests, f"POST /offersets ({label}) #{round_ + 1}"
                )
                base = measure_baseline(
                    size, args.clients, args.requests, f"bare starlette, {size} B body #{round_ + 1}"
                )
                print(base.line())
                print(ours.line())
                throughput.append(ours.throughput / base.throughput)
                p99.append(ours.percentile(0.99) / base.percentile(0.99))
            throughput_ratio, p99_ratio = statistics.median(throughput), statistics.median(p99)
            ok = throughput_ratio >= 0.5 and p99_ratio <= 2.0
            print(
                f"  {label}: median throughput {throughput_ratio:.0%} of baseline (target >= 50%), "
                f"median p99 {p99_ratio:.2f}x baseline (target <= 2x)  {'OK' if ok else 'BELOW TARGET'}"
            )
            print(
                json.dumps(
                    {
                        "bench": "offersets",
                        "catalogue": label,
                        "sites": len(bundled.sites) * copies,
                        "rounds": args.rounds,
                        "throughput_ratio": round(throughput_ratio, 3),
                        "p99_ratio": round(p99_ratio, 3),
                        "target_met": ok,
                    }
                )
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Launch overhead: the time the service adds from ACCEPTED to AVAILABLE beyond the cloud's own boot delay
(median and p95; target ≤ 1 s), and a burst of concurrent launches across the sites finishing within 2× the
time of a single launch.

The service runs as `execplanner serve --cloud egi` against a simulated federation in this process (robot
token: the simulator's demo token), so the boot delay is known and set here. Quotas of the simulated sites are
lifted so that the burst measures the service, not the sites' limits.
Run: `python bench/launch.py [--launches 20] [--concurrent 50] [--boot-delay 0.5]` (on a quiet machine).
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests
from _load import start

from execplanner.catalogue import Catalogue, QuotaItem, default_catalogue_path
from execplanner.simcloud import SimFederation, load_federation
from execplanner.simcloud.default_catalogue import CANONICAL_SIM_URL, rebase

ROOT = Path(__file__).resolve().parents[1]
REQUEST = json.loads((ROOT / "examples" / "requests" / "oligia-webtop.json").read_text())
REQUEST.pop("schedule")  # start now
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}
READY = ("READY", "AVAILABLE", "RUNNING")


def _federation(boot_delay: float) -> SimFederation:
    spec = load_federation()
    for site in spec.sites:
        site.response_delay = 0.0
        site.boot_delay = boot_delay
        for network in site.networks:
            for subnet in network.subnets:
                subnet.allocation_pools = []  # the whole subnet: CYFRONET's three addresses would end the burst
        for name in ("instances", "cores", "ram", "floating_ips", "ports", "security_groups", "security_group_rules"):
            if hasattr(site.quota, name):
                setattr(site.quota, name, 100000)
    return SimFederation.start(spec=spec)


def _catalogue(fed: SimFederation, path: Path) -> Path:
    catalogue = rebase(Catalogue.load(default_catalogue_path()), CANONICAL_SIM_URL, fed.base_url)
    for site in catalogue.sites:
        for site_vo in site.vos:
            if site_vo.quota:
                for field in ("instances", "cores", "ram", "floating_ips"):
                    setattr(site_vo.quota, field, QuotaItem(limit=None))
    catalogue.save(path)
    return path


def launch_once(url: str, timeout: float = 120.0) -> float:
    """Seconds from the 303 of POST /direct (the session is ACCEPTED) to the session answering READY."""
    with requests.Session() as http:
        answer = http.post(f"{url}/direct", json=REQUEST, headers=HEADERS, allow_redirects=False)
        assert answer.status_code == 303, answer.text[:300]
        accepted, location = time.monotonic(), answer.headers["location"]
        deadline = accepted + timeout
        while time.monotonic() < deadline:
            phase = http.get(location, headers=HEADERS).json()["phase"]
            if phase in READY:
                return time.monotonic() - accepted
            assert phase not in ("FAILED", "CANCELLED"), http.get(location, headers=HEADERS).text[-500:]
            time.sleep(0.02)
    raise TimeoutError(f"{location} not ready within {timeout} s")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--launches", type=int, default=20, help="sequential launches for the overhead figures")
    parser.add_argument("--concurrent", type=int, default=50, help="launches in the concurrent burst")
    parser.add_argument("--boot-delay", type=float, default=0.5, help="the simulated servers' boot delay, s")
    args = parser.parse_args(argv)
    fed = _federation(args.boot_delay)
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "EXECPLANNER_CLOUD": "egi",
            "EXECPLANNER_CATALOGUE": str(_catalogue(fed, Path(tmp) / "catalogue.yaml")),
            "EXECPLANNER_ROBOT_TOKEN": fed.demo_token,
            "EXECPLANNER_SCHEDULER_INTERVAL": "0.05",
            "EXECPLANNER_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
        process, url = start(
            [sys.executable, "-m", "execplanner.cli", "serve", "--port", "0", "--data-dir", f"{tmp}/data"], env
        )
        try:
            single = [launch_once(url) for _ in range(args.launches)]
            overhead = sorted(max(0.0, s - args.boot_delay) for s in single)
            p95 = overhead[min(len(overhead) - 1, int(round(0.95 * (len(overhead) - 1))))]
            started = time.monotonic()
            with cf.ThreadPoolExecutor(max_workers=args.concurrent) as pool:
                list(pool.map(lambda _: launch_once(url), range(args.concurrent)))
            burst = time.monotonic() - started
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
            fed.stop()
    median = statistics.median(overhead)
    print(f"launch overhead beyond a {args.boot_delay:g} s boot: median {median:.3f} s, p95 {p95:.3f} s (target ≤ 1 s)")
    print(
        f"{args.concurrent} concurrent launches: {burst:.2f} s; one launch: {statistics.median(single):.2f} s "
        f"(target ≤ 2×: {burst / statistics.median(single):.1f}×)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Is the catalogue build parallel? Building N slow sites must take no more than 1.5x the slowest site alone.

Starts a simulated federation of N sites (the bundled six, cloned under new names) where every API call of
site i is delayed by a different amount, then measures in the same run:
  baseline: building the slowest site alone;
  parallel: building all N sites at once.
Prints both, and the ratio parallel / baseline (target <= 1.5).

Run: python bench/catalogue_build.py [N]
"""

from __future__ import annotations

import sys
import time
import warnings

from _common import Row

from execplanner.catalogue.build import build_catalogue
from execplanner.catalogue.sources import sim_targets
from execplanner.simcloud import FederationSpec, SimFederation, load_federation

VO = "ops"  # every simulated site supports it
TARGET_RATIO = 1.5
MIN_DELAY, MAX_DELAY = 0.02, 0.15  # seconds added to every API call, spread over the sites


def federation(n: int) -> FederationSpec:
    spec = load_federation()
    templates = spec.sites
    sites = []
    for i in range(n):
        site = templates[i % len(templates)].model_copy(deep=True)
        site.name = f"{site.name}-{i}" if i >= len(templates) else site.name
        site.response_delay = MIN_DELAY + (MAX_DELAY - MIN_DELAY) * i / max(n - 1, 1)
        site.faults = []
        sites.append(site)
    return spec.model_copy(update={"sites": sites})


def timed_build(fed: SimFederation, sites: list[str]) -> tuple[float, int]:
    targets, credentials, source = sim_targets(fed.base_url, [VO], sites)
    started = time.perf_counter()
    catalogue = build_catalogue(targets, credentials, source, site_timeout=120)
    elapsed = time.perf_counter() - started
    return elapsed, sum(1 for s in catalogue.sites if s.status.value == "ok")


PART = "catalogue build"


def measure(n: int) -> tuple[float, int, float, int, str]:
    """(all n sites in parallel: seconds, sites ok; the slowest site alone: seconds, ok; its name)."""
    warnings.simplefilter("ignore")  # openstacksdk's own deprecation chatter
    spec = federation(n)
    slowest = max(spec.sites, key=lambda s: s.response_delay)
    fed = SimFederation.start(spec=spec)
    try:
        timed_build(fed, [spec.sites[0].name])  # warm-up: imports, first connections
        baseline, ok_alone = timed_build(fed, [slowest.name])
        parallel, ok_all = timed_build(fed, [s.name for s in spec.sites])
    finally:
        fed.stop()
    return parallel, ok_all, baseline, ok_alone, slowest.name


def rows(n: int = 12) -> list[Row]:
    parallel, ok_all, baseline, _ok_alone, slowest = measure(n)
    row = Row(
        PART,
        f"{n} simulated sites in parallel",
        parallel,
        "s",
        baseline,
        f"slowest site ({slowest}) alone",
        f"build_catalogue against simcloud, per-call delay {MIN_DELAY:.2f}..{MAX_DELAY:.2f} s",
        f"<= {TARGET_RATIO}x",
        note=f"{ok_all} of {n} sites ok",
    )
    row.ok = ok_all == n and (row.ratio or 0) <= TARGET_RATIO
    return [row]


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 12
    [row] = rows(n)
    print(f"sites: {n}, per-call delay {MIN_DELAY:.2f}..{MAX_DELAY:.2f} s, VO {VO}")
    print(f"baseline ({row.baseline_name}): {row.baseline:.2f} s")
    print(f"all {n} sites in parallel: {row.value:.2f} s, {row.note}")
    verdict = "PASS" if row.ok else "FAIL"
    print(f"{verdict}: ratio parallel/baseline = {row.ratio:.2f} (target <= {TARGET_RATIO})")
    return 0 if row.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

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


def main(argv: list[str]) -> int:
    warnings.simplefilter("ignore")  # openstacksdk's own deprecation chatter
    n = int(argv[0]) if argv else 12
    spec = federation(n)
    slowest = max(spec.sites, key=lambda s: s.response_delay)
    fed = SimFederation.start(spec=spec)
    try:
        timed_build(fed, [spec.sites[0].name])  # warm-up: imports, first connections
        baseline, ok_alone = timed_build(fed, [slowest.name])
        parallel, ok_all = timed_build(fed, [s.name for s in spec.sites])
    finally:
        fed.stop()
    ratio = parallel / baseline
    print(f"sites: {n}, per-call delay {MIN_DELAY:.2f}..{MAX_DELAY:.2f} s, VO {VO}")
    print(f"baseline (slowest site {slowest.name} alone): {baseline:.2f} s, {ok_alone} ok")
    print(f"all {n} sites in parallel: {parallel:.2f} s, {ok_all} ok")
    verdict = "PASS" if ratio <= TARGET_RATIO and ok_all == n else "FAIL"
    print(f"{verdict}: ratio parallel/baseline = {ratio:.2f} (target <= {TARGET_RATIO})")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

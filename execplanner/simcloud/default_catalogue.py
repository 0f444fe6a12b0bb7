"""Regenerate the bundled default catalogue from the simulated federation (a development step):

    python -m execplanner.simcloud.default_catalogue [-o execplanner/catalogue/default.yaml]

It lives with the simulator, not in `catalogue/`: product code ships the catalogue as a data file and never
imports the simulator.

Starts the bundled simulator in-process (without its artificial response delays: they change timing, not
content), discovers every site and VO over HTTP exactly as a real build does, and writes the result with
endpoints pointing at `execplanner sim`'s default address, so the file is the same on every run but for
`generated_at`. tests/catalogue/test_default_catalogue.py fails when the file is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from execplanner.catalogue import Catalogue, default_catalogue_path
from execplanner.catalogue.build import build_catalogue
from execplanner.catalogue.sources import sim_targets
from execplanner.simcloud.server import SimFederation
from execplanner.simcloud.spec import load_federation

CANONICAL_SIM_URL = "http://127.0.0.1:5000"  # `execplanner sim` listens here by default


def rebase(catalogue: Catalogue, actual_url: str, canonical_url: str = CANONICAL_SIM_URL) -> Catalogue:
    """The same catalogue as if built from a simulator at `canonical_url`."""
    actual, canonical = actual_url.rstrip("/"), canonical_url.rstrip("/")
    copy = catalogue.model_copy(deep=True)
    copy.source = copy.source.replace(actual, canonical)
    for site in copy.sites:
        site.endpoint = site.endpoint.replace(actual, canonical)
    return copy


def build_default_catalogue() -> Catalogue:
    spec = load_federation()
    for site in spec.sites:
        site.response_delay = 0.0
    fed = SimFederation.start(spec=spec)
    try:
        targets, credentials, source = sim_targets(fed.base_url)
        built = build_catalogue(targets, credentials, source, site_timeout=120)
    finally:
        fed.stop()
    return rebase(built, fed.base_url)


def main(argv: list[str]) -> int:
    target = Path(argv[argv.index("-o") + 1]) if "-o" in argv else default_catalogue_path()
    catalogue = build_default_catalogue()
    failed = [s.name for s in catalogue.sites if s.status.value != "ok"]
    if failed:
        print(f"not written: site(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    catalogue.save(target)
    print(f"wrote {target}: {len(catalogue.sites)} sites, {sum(len(s.vos) for s in catalogue.sites)} site-VOs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

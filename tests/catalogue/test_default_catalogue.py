"""The bundled default catalogue is what the simulator produces today (so it cannot go stale).

Regenerate it with `python -m execplanner.simcloud.default_catalogue` (docs/catalogue.md).
"""

from __future__ import annotations

from execplanner.catalogue import Catalogue, default_catalogue_path
from execplanner.catalogue.diff import diff_catalogues
from execplanner.simcloud import SimFederation
from execplanner.simcloud.default_catalogue import CANONICAL_SIM_URL, rebase


def test_bundled_default_catalogue_matches_a_fresh_build(quiet_sim: SimFederation, sim_catalogue: Catalogue) -> None:
    bundled = Catalogue.load(default_catalogue_path())
    fresh = rebase(sim_catalogue, quiet_sim.base_url)
    changes = [str(c) for c in diff_catalogues(bundled, fresh)]
    assert changes == [], "default.yaml is stale: run `python -m execplanner.simcloud.default_catalogue`"
    # beyond what diff reports (it matches by name): the whole document but its generation time
    assert bundled.model_dump(exclude={"generated_at"}) == fresh.model_dump(exclude={"generated_at"})


def test_bundled_default_points_at_the_default_simulator_and_serves_the_default_vo() -> None:
    cat = Catalogue.load(default_catalogue_path())
    assert cat.source == f"simcloud {CANONICAL_SIM_URL}"
    assert all(site.status.value == "ok" and site.endpoint.startswith(CANONICAL_SIM_URL) for site in cat.sites)
    assert len(cat.sites_for_vo("vo.access.egi.eu")) == 5

"""How long does loading a 100×-EGI-size catalogue take? Target: under 1 s (JSON). And planning against
catalogues of 1×, 10× and 100× the EGI size (25 sites): the time per request must grow sub-linearly.

Synthesises 25 sites × 100 = 2500 sites, one VO each, with 20 flavors (one with a GPU), 20 images
(AppDB-style names, classified), 4 networks and a quota per site; saves it as JSON; loads it with
`Catalogue.load` and compares with a plain `json.loads` of the same file in the same run (the baseline).
With --yaml, does the same for YAML (much slower to parse: use JSON for big catalogues).

Run: python bench/catalogue_load.py [--yaml]; `make bench` runs `rows()` (load and plan at each scale).
"""

from __future__ import annotations

import gc
import json
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import yaml
from _common import Row

from execplanner.catalogue import Catalogue, Flavor, Gpu, Image, Network, NetworkRole, PublicAccess, Quota, Site
from execplanner.catalogue.model import QuotaItem, SiteVO

EGI_SITES = 25
SITES = EGI_SITES * 100
VOS_PER_SITE = 1
FLAVORS = 20
IMAGES = 20
LIMIT_SECONDS = 1.0


def _flavors(site: int) -> list[Flavor]:
    flavors = [
        Flavor(id=f"{site}-f{i}", name=f"m1.size{i}", vcpus=2 ** (i % 6), ram=2048 * 2 ** (i % 6), disk=20 * (i + 1))
        for i in range(FLAVORS - 1)
    ]
    flavors.append(
        Flavor(
            id=f"{site}-g",
            name="g1.gpu-v100",
            vcpus=8,
            ram=32768,
            disk=100,
            gpu=Gpu(count=1, vendor="NVIDIA", model="Tesla V100"),
            extra_specs={"Accelerator:Number": "1", "Accelerator:Vendor": "NVIDIA", "Accelerator:Model": "Tesla V100"},
            classified_by=["gpu:extra_spec:Accelerator"],
        )
    )
    return flavors


def _images(site: int) -> list[Image]:
    distros = [("ubuntu", "22.04"), ("ubuntu", "20.04"), ("almalinux", "9"), ("rocky", "9.3"), ("debian", "12")]
    images = []
    for i in range(IMAGES):
        distro, version = distros[i % len(distros)]
        appliances = [["docker"], ["jupyter"], [], ["docker", "cuda"], []][i % 5]
        images.append(
            Image(
                id=f"{site}-i{i}",
                name=f"Image for EGI {distro.title()} {version} [{distro.title()}/{version}/VirtualBox] #{i}",
                os_family="linux",
                os_distro=distro,
                os_version=version,
                appliances=appliances,
                architecture="x86_64",
                min_disk=8,
                classified_by=["os:property:os_distro", "os:property:os_version"],
            )
        )
    return images


def _networks(site: int) -> list[Network]:
    return [
        Network(
            id=f"{site}-n0",
            name="public",
            role=NetworkRole.PUBLIC,
            access=PublicAccess.FLOATING_IP,
            evidence=["router:external", "name-pattern:public"],
            external=True,
            cidrs=["193.146.75.0/24"],
        ),
        Network(
            id=f"{site}-n1",
            name="private",
            role=NetworkRole.VO_PRIVATE,
            evidence=["project-owned"],
            cidrs=["172.16.8.0/24"],
        ),
        Network(
            id=f"{site}-n2",
            name="shared-internal",
            role=NetworkRole.PRIVATE,
            evidence=["shared"],
            shared=True,
            cidrs=["10.10.0.0/16"],
        ),
        Network(
            id=f"{site}-n3",
            name="storage",
            role=NetworkRole.PRIVATE,
            evidence=["not-project-owned"],
            cidrs=["10.20.0.0/16"],
        ),
    ]


def synthesise(site_count: int = SITES) -> Catalogue:
    quota = Quota(
        instances=QuotaItem(limit=10, in_use=3),
        cores=QuotaItem(limit=40, in_use=12),
        ram=QuotaItem(limit=81920, in_use=20480),
        floating_ips=QuotaItem(limit=5, in_use=1),
    )
    sites = []
    for s in range(site_count):
        vos = [
            SiteVO(
                vo=f"vo{v}.example.eu",
                project_id=f"{s:04d}{v:028d}",
                flavors=_flavors(s),
                images=_images(s),
                networks=_networks(s),
                quota=quota,
            )
            for v in range(VOS_PER_SITE)
        ]
        sites.append(Site(name=f"SITE-{s:04d}", endpoint=f"https://keystone.site{s}.example:5000/v3", vos=vos))
    return Catalogue(source="synthetic benchmark", sites=sites)


def _best_of(runs: int, action: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        gc.collect()  # do not charge this run for the previous run's garbage
        started = time.perf_counter()
        action()
        best = min(best, time.perf_counter() - started)
    return best


def _plain(parse: Callable[[], object]) -> Callable[[], object]:
    """The baseline parse, with the garbage collector paused as Catalogue.load does, so the ratio is fair."""

    def run() -> object:
        gc.disable()
        try:
            return parse()
        finally:
            gc.enable()

    return run


def _report(kind: str, load: float, parse: float, baseline: str) -> None:
    print(f"Catalogue.load {kind}: {load:.3f} s  (plain {baseline}: {parse:.3f} s, ratio {load / parse:.2f})")


PART = "catalogue"
PLANS = 200
REQUEST = Path(__file__).resolve().parents[1] / "examples" / "requests" / "oligia-webtop.json"


def plan_seconds(catalogue: Catalogue, plans: int = PLANS) -> tuple[float, int]:
    """Mean seconds to plan the Oligia request against `catalogue` (nothing held), after one warm-up plan that
    fills the planner's per-shape match cache; and how many offers the last plan made."""
    from execplanner.booking.offersets import resolved
    from execplanner.formats import decode
    from execplanner.planner.federation import FederationPlanner

    request = resolved(decode.read_offerset_request(json.loads(REQUEST.read_bytes())))
    planner = FederationPlanner(lambda: catalogue, "vo0.example.eu", 4)
    now = datetime.now(UTC)
    plan = planner(request, [], now)
    started = time.perf_counter()
    for _ in range(plans):
        plan = planner(request, [], now)
    return (time.perf_counter() - started) / plans, len(plan.offers)


def rows(scales: tuple[int, ...] = (1, 10, 100)) -> list[Row]:
    """Load time (beside a plain json.loads of the same file) and plan time (beside the 1× plan time) per scale."""
    out: list[Row] = []
    first_plan: float | None = None
    for scale in scales:
        sites = EGI_SITES * scale
        catalogue = synthesise(sites)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "catalogue.json"
            catalogue.save(path)
            load = _best_of(3, lambda: Catalogue.load(path))  # noqa: B023 — called at once
            parse = _best_of(3, _plain(lambda: json.loads(path.read_bytes())))  # noqa: B023
            size = path.stat().st_size / 1e6
        row = Row(
            PART,
            f"load {scale}x EGI ({sites} sites, {size:.1f} MB JSON)",
            load,
            "s",
            parse,
            "plain json.loads",
            "Catalogue.load, best of 3",
        )
        if scale == 100:
            row.target, row.ok = f"< {LIMIT_SECONDS:.0f} s", load < LIMIT_SECONDS
        out.append(row)
        mean, offers = plan_seconds(catalogue)
        first_plan = first_plan or mean
        plan = Row(
            PART,
            f"plan {scale}x EGI ({sites} sites)",
            mean * 1000,
            "ms/request",
            first_plan * 1000,
            f"plan {scales[0]}x",
            f"FederationPlanner in process, mean of {PLANS}",
            note=f"{offers} offers",
        )
        if scale > scales[0]:
            plan.target, plan.ok = f"< {scale // scales[0]}x (sub-linear)", (plan.ratio or 0) < scale / scales[0]
        out.append(plan)
    return out


def main(argv: list[str]) -> int:
    catalogue = synthesise()
    with tempfile.TemporaryDirectory() as tmp:
        json_path = Path(tmp) / "big.json"
        catalogue.save(json_path)
        objects = sum(len(v.flavors) + len(v.images) + len(v.networks) for s in catalogue.sites for v in s.vos)
        print(f"catalogue: {SITES} sites, {SITES * VOS_PER_SITE} site-VOs, {objects} flavors+images+networks")
        print(f"  JSON {json_path.stat().st_size / 1e6:.1f} MB")
        json_load = _best_of(3, lambda: Catalogue.load(json_path))
        json_parse = _best_of(3, _plain(lambda: json.loads(json_path.read_bytes())))
        _report("JSON", json_load, json_parse, "json.loads")
        if "--yaml" in argv:
            yaml_path = Path(tmp) / "big.yaml"
            catalogue.save(yaml_path)
            print(f"  YAML {yaml_path.stat().st_size / 1e6:.1f} MB")
            yaml_load = _best_of(1, lambda: Catalogue.load(yaml_path))
            yaml_parse = _best_of(1, _plain(lambda: yaml.load(yaml_path.read_bytes(), Loader=yaml.CSafeLoader)))
            _report("YAML", yaml_load, yaml_parse, "yaml CSafeLoader")
    verdict = "PASS" if json_load < LIMIT_SECONDS else "FAIL"
    print(f"{verdict}: JSON load {json_load:.3f} s vs limit {LIMIT_SECONDS:.1f} s")
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

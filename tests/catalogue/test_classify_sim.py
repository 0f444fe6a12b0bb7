"""Every simulated site classified correctly, discovered over HTTP through openstacksdk.

Two sources of truth: the simulator's own `expected:` answers, and the explicit expectations below, written
independently, so a wrong `expected:` in sites.yaml is caught too (the two must agree).
"""

from __future__ import annotations

from typing import Any

import pytest

from execplanner.catalogue.model import Catalogue, Flavor, Image, Site, SiteStatus
from execplanner.simcloud import FederationSpec

SIM_SITES = ["IFCA-LCG2", "IN2P3-IRES", "CYFRONET-CLOUD", "IISAS-FedCloud", "CESGA-CLOUD", "NCG-INGRID-PT"]

# site -> (public network, how VMs get a public address, network VMs are attached to otherwise)
NETWORKS: dict[str, tuple[str | None, str, str | None]] = {
    "IFCA-LCG2": ("public", "floating-ip", "private"),
    "IN2P3-IRES": ("ext-net", "floating-ip", "int-net"),
    "CYFRONET-CLOUD": ("external", "floating-ip", "internal"),  # shared internal network, routed out
    "IISAS-FedCloud": ("provider-1320", "direct", None),  # provider VLAN with public addresses
    "CESGA-CLOUD": (None, "none", "cesga-internal"),  # no external network at all
    "NCG-INGRID-PT": ("internet", "floating-ip", "vo-net"),
}
# (site, flavor) -> (GPUs, vendor, model); every other flavor has no GPU
GPU_FLAVORS: dict[tuple[str, str], tuple[int, str | None, str | None]] = {
    ("IFCA-LCG2", "g1.gpu-v100"): (1, "NVIDIA", "Tesla V100"),
    ("IFCA-LCG2", "g2.gpu-a100x2"): (2, "NVIDIA", "A100"),
    ("IFCA-LCG2", "vg1.t4"): (1, "NVIDIA", "T4"),  # vGPU: count from resources:VGPU
    ("IFCA-LCG2", "g3.mi50-passthrough"): (1, None, "MI50"),  # PCI alias only: vendor not guessed
}
# (site, image) -> (family, distro, version, appliances): the tricky ones
IMAGES: dict[tuple[str, str], tuple[str, str, str, list[str]]] = {
    ("IFCA-LCG2", "Image for EGI Docker [Ubuntu/22.04/VirtualBox]"): ("linux", "ubuntu", "22.04", ["docker"]),
    ("IFCA-LCG2", "Image for EGI Jupyter [Ubuntu/22.04/VirtualBox]"): ("linux", "ubuntu", "22.04", ["jupyter"]),
    ("IFCA-LCG2", "ubuntu-22.04-cuda12"): ("linux", "ubuntu", "22.04", ["cuda", "docker"]),
    ("IN2P3-IRES", "centos-stream-9"): ("linux", "centos", "9", []),
    ("CYFRONET-CLOUD", "img-c04d55e2"): ("linux", "ubuntu", "20.04", ["docker"]),  # opaque name
    ("CYFRONET-CLOUD", "img-9b3e7a10"): ("linux", "almalinux", "9", []),
    ("IISAS-FedCloud", "Rocky-9"): ("linux", "rocky", "9.3", []),  # the property's version wins
    ("IISAS-FedCloud", "Jupyter Notebook (Ubuntu 22.04)"): ("linux", "ubuntu", "22.04", ["jupyter"]),
    ("NCG-INGRID-PT", "Jupyter DataScience (Ubuntu 22.04)"): ("linux", "ubuntu", "22.04", ["docker", "jupyter"]),
    ("NCG-INGRID-PT", "Windows Server 2022"): ("windows", "windows", "2022", []),
}


def _site(cat: Catalogue, name: str) -> Site:
    site = cat.site(name)
    assert site is not None, f"{name} missing from the catalogue"
    assert site.status is SiteStatus.OK, site.error
    return site


def _images(site: Site) -> dict[str, Image]:
    """Images seen by any VO (private images are visible only to their owner VO)."""
    return {i.name: i for vo in site.vos for i in vo.images}


def _flavors(site: Site) -> dict[str, Flavor]:
    return {f.name: f for vo in site.vos for f in vo.flavors}


def _network_answer(site: Site) -> set[tuple[str | None, str, str | None]]:
    """What every VO of the site concluded (must be a single answer)."""
    answers = set()
    for vo in site.vos:
        public = vo.public_network()
        access = public.access.value if public is not None and public.access else "none"
        attach = vo.attach_network()
        private = None if attach is None or attach is public else attach.name
        answers.add((public.name if public else None, access, private))
    return answers


def test_simulator_has_the_sites_we_expect(sim_spec: FederationSpec, sim_catalogue: Catalogue) -> None:
    assert sorted(s.name for s in sim_spec.sites) == sorted(SIM_SITES)
    assert sorted(s.name for s in sim_catalogue.sites) == sorted(SIM_SITES)
    for site in sim_catalogue.sites:
        assert sorted(v.vo for v in site.vos) == sorted(sim_spec.site(site.name).vo_projects)


@pytest.mark.parametrize("name", SIM_SITES)
def test_networks_match_simulator_expected_and_ours(
    name: str, sim_spec: FederationSpec, sim_catalogue: Catalogue
) -> None:
    expected: dict[str, Any] = sim_spec.site(name).expected
    from_sim = (expected["public_network"], expected["public_address"], expected["private_network"])
    assert from_sim == NETWORKS[name], "sites.yaml `expected:` disagrees with our own expectations"
    assert _network_answer(_site(sim_catalogue, name)) == {NETWORKS[name]}


@pytest.mark.parametrize("name", SIM_SITES)
def test_flavors_match_simulator_expected_and_ours(
    name: str, sim_spec: FederationSpec, sim_catalogue: Catalogue
) -> None:
    flavors = _flavors(_site(sim_catalogue, name))
    expected: dict[str, dict[str, Any]] = sim_spec.site(name).expected["flavors"]
    assert sorted(flavors) == sorted(expected)
    for flavor_name, want in expected.items():
        ours = GPU_FLAVORS.get((name, flavor_name), (0, None, None))
        assert (want["gpus"], want["gpu_vendor"], want["gpu_model"]) == ours, f"sites.yaml wrong for {flavor_name}"
        gpu = flavors[flavor_name].gpu
        got = (gpu.count, gpu.vendor, gpu.model) if gpu else (0, None, None)
        assert got == ours, flavor_name


@pytest.mark.parametrize("name", SIM_SITES)
def test_images_match_simulator_expected_and_ours(
    name: str, sim_spec: FederationSpec, sim_catalogue: Catalogue
) -> None:
    images = _images(_site(sim_catalogue, name))
    expected: dict[str, dict[str, Any]] = sim_spec.site(name).expected["images"]
    assert sorted(images) == sorted(expected)
    for image_name, want in expected.items():
        want_tuple = (want["os_family"], want["distro"], want["version"], sorted(want["appliances"]))
        if (name, image_name) in IMAGES:
            assert want_tuple == IMAGES[(name, image_name)], f"sites.yaml wrong for {image_name}"
        image = images[image_name]
        assert (image.os_family, image.os_distro, image.os_version, image.appliances) == want_tuple, image_name
        assert image.classified_by, "every image says how it was classified"


def test_private_image_is_visible_only_to_its_vo(sim_catalogue: Catalogue) -> None:
    site = _site(sim_catalogue, "IFCA-LCG2")
    owners = [vo.vo for vo in site.vos if vo.image("ubuntu-22.04-cuda12")]
    assert owners == ["vo.ai4eosc.eu"]


@pytest.mark.parametrize("name", SIM_SITES)
def test_quota_limits_are_the_sites(name: str, sim_spec: FederationSpec, sim_catalogue: Catalogue) -> None:
    limits = sim_spec.site(name).quota
    for vo in _site(sim_catalogue, name).vos:
        assert vo.quota is not None
        got = (vo.quota.instances.limit, vo.quota.cores.limit, vo.quota.ram.limit, vo.quota.floating_ips.limit)
        assert got == (limits.instances, limits.cores, limits.ram, limits.floating_ips)


def test_planner_queries_on_the_sim_catalogue(sim_catalogue: Catalogue) -> None:
    """What the planner will ask: which sites take vo.access.egi.eu, and which have a GPU for it."""
    names = [s.name for s, _ in sim_catalogue.sites_for_vo("vo.access.egi.eu")]
    assert names == ["CYFRONET-CLOUD", "IFCA-LCG2", "IISAS-FedCloud", "IN2P3-IRES", "NCG-INGRID-PT"]
    gpu_sites = {s.name for s, vo in sim_catalogue.sites_for_vo("vo.access.egi.eu") if any(f.gpu for f in vo.flavors)}
    assert gpu_sites == {"IFCA-LCG2"}
    assert [s.name for s, _ in sim_catalogue.sites_for_vo("vo.escape.eu")] == [
        "CESGA-CLOUD",
        "IFCA-LCG2",
        "IN2P3-IRES",
        "NCG-INGRID-PT",
    ]

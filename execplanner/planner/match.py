"""Does one site fit? Pure functions of (needs, one site's catalogue view, what is held there).

Each check either picks what fits (the smallest flavor, the best image, the public network) or says, in a
`Misfit`, which requirement failed and by how much, so a NO can explain itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from execplanner.catalogue.model import Flavor, Image, Network, PublicAccess, Site, SiteVO
from execplanner.planner.needs import Needs

LINUX_DISTROS = ("ubuntu", "debian", "almalinux", "rocky", "centos", "fedora", "rhel", "opensuse")
PREFERRED_DISTROS = ("ubuntu", "debian")


class Failed(StrEnum):
    """Which requirement a site failed, in the order they are checked."""

    CORES = "cores"
    MEMORY = "memory"
    GPU = "gpu"
    IMAGE = "image"
    NETWORK = "network"
    QUOTA = "quota"


@dataclass(frozen=True)
class Misfit:
    site: str
    failed: Failed
    detail: str


@dataclass(frozen=True)
class Fit:
    site: Site
    site_vo: SiteVO
    flavor: Flavor
    image: Image
    network: Network | None
    public_access: PublicAccess | None
    waste: float
    image_rank: int = 0


def gpu_ok(flavor: Flavor, needs: Needs) -> bool:
    if needs.gpus == 0:
        return flavor.gpu is None
    gpu = flavor.gpu
    if gpu is None or gpu.count < needs.gpus:
        return False
    if needs.gpu_vendor and needs.gpu_vendor.lower() not in (gpu.vendor or "").lower():
        return False
    return not (needs.gpu_model and needs.gpu_model.lower() not in (gpu.model or "").lower())


def pick_flavor(site: Site, site_vo: SiteVO, needs: Needs) -> Flavor | Misfit:
    """The smallest flavor that satisfies every minimum and no maximum."""
    flavors = site_vo.flavors
    checks = (
        (
            Failed.CORES,
            lambda f: f.vcpus >= needs.cores_min and (needs.cores_max is None or f.vcpus <= needs.cores_max),
        ),
        (
            Failed.MEMORY,
            lambda f: f.ram >= needs.memory_min_mib and (needs.memory_max_mib is None or f.ram <= needs.memory_max_mib),
        ),
        (Failed.GPU, lambda f: gpu_ok(f, needs)),
    )
    for failed, check in checks:
        remaining = [f for f in flavors if check(f)]
        if not remaining:
            return Misfit(site.name, failed, _flavor_detail(failed, flavors))
        flavors = remaining
    return min(flavors, key=lambda f: (f.vcpus, f.ram, f.disk, f.name))


def _flavor_detail(failed: Failed, flavors: list[Flavor]) -> str:
    if not flavors:
        return "no flavors"
    if failed is Failed.CORES:
        return str(max(f.vcpus for f in flavors))
    if failed is Failed.MEMORY:
        return str(max(f.ram for f in flavors) // 1024)
    gpus = [f.gpu for f in flavors if f.gpu]
    return ", ".join(sorted({f"{g.count}x {g.vendor or ''} {g.model or ''}".strip() for g in gpus})) or "none"


def _image_score(image: Image, needs: Needs) -> tuple[int, ...] | None:
    """Lower is better; None when the image cannot run this executable."""
    distro = (image.os_distro or "").lower()
    linux = image.os_family == "linux" or distro in LINUX_DISTROS
    if not linux or (image.architecture and image.architecture not in ("x86_64", "amd64")):
        return None
    appliances = set(image.appliances)
    wanted = 0
    if needs.needs_docker:
        wanted = 0 if "docker" in appliances else 1
    elif needs.kind.value == "jupyter-notebook":
        wanted = 0 if "jupyter" in appliances else (1 if "docker" in appliances else 2)
    gpu_stack = 0 if (needs.gpus and "cuda" in appliances) or not needs.gpus else 1
    preferred = 0 if distro in PREFERRED_DISTROS else 1
    version = -_version_number(image.os_version)
    return (wanted, gpu_stack, preferred, int(version * 100))


def _version_number(text: str | None) -> float:
    try:
        return float(text or 0)
    except ValueError:
        return 0.0


def pick_image(site: Site, site_vo: SiteVO, needs: Needs, flavor: Flavor) -> Image | Misfit:
    scored = [
        (score, image.name, image)
        for image in site_vo.images
        if (score := _image_score(image, needs)) is not None
        and image.min_ram <= flavor.ram
        and (flavor.disk == 0 or image.min_disk <= flavor.disk)
    ]
    if not scored:
        wanted = "Docker-capable Linux" if needs.needs_docker else "Linux"
        return Misfit(site.name, Failed.IMAGE, wanted)
    return min(scored, key=lambda item: (item[0], item[1]))[2]


def pick_network(site: Site, site_vo: SiteVO, needs: Needs) -> tuple[Network | None, PublicAccess | None] | Misfit:
    public = site_vo.public_network()
    if not needs.public_ports:
        return site_vo.attach_network(), None
    if public is None or public.access is None:
        return Misfit(site.name, Failed.NETWORK, ", ".join(str(p) for p in needs.public_ports))
    return public, public.access


def static_fit(site: Site, site_vo: SiteVO, needs: Needs) -> Fit | Misfit:
    """What fits on this site whatever is held there: depends only on the catalogue and the need's shape."""
    flavor = pick_flavor(site, site_vo, needs)
    if isinstance(flavor, Misfit):
        return flavor
    image = pick_image(site, site_vo, needs, flavor)
    if isinstance(image, Misfit):
        return image
    network = pick_network(site, site_vo, needs)
    if isinstance(network, Misfit):
        return network
    chosen_network, access = network
    waste = (flavor.vcpus - needs.cores_min) / max(needs.cores_min, 1) + (flavor.ram - needs.memory_min_mib) / max(
        needs.memory_min_mib, 1
    )
    rank = _image_score(image, needs)
    return Fit(site, site_vo, flavor, image, chosen_network, access, waste, rank[0] if rank else 0)


def floating_ips_of(fit: Fit) -> int:
    return 1 if fit.public_access is PublicAccess.FLOATING_IP else 0

"""Classification rules on hand-written OpenStack-like inputs: what a planner would get wrong if they broke."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from execplanner.catalogue.classify import (
    FlavorFacts,
    ImageFacts,
    NetworkFacts,
    classify_flavor,
    classify_gpu,
    classify_image,
    classify_networks,
    has_public_addresses,
)
from execplanner.catalogue.model import NetworkRole, PublicAccess, SiteVO

PROJECT = "p-vo"

# --------------------------------------------------------------------------------------------------- GPUs


@pytest.mark.parametrize(
    ("name", "specs", "expected"),
    [
        ("m1.large", {}, None),
        ("cpu8-ram32", {}, None),
        ("c1.amd.large", {}, None),  # an AMD CPU flavor is not a GPU flavor
        ("hpc.64core", {"hw:cpu_policy": "dedicated"}, None),
        ("g1.gpu-v100", {}, (1, None, "v100")),
        ("gpu", {}, (1, None, None)),
        ("g2.2gpu.a100", {}, (2, None, "a100")),
        (
            "g1.gpu-v100",
            {
                "Accelerator:Number": "1",
                "Accelerator:Vendor": "NVIDIA",
                "Accelerator:Model": "Tesla V100",
                "pci_passthrough:alias": "V100:1",
            },
            (1, "NVIDIA", "Tesla V100"),
        ),
        ("x", {"pci_passthrough:alias": "nvidia-v100:2"}, (2, "nvidia", "v100")),
        ("x", {"pci_passthrough:alias": "a100:1,a100:1"}, (2, None, "a100")),
        (
            "vg1.t4",
            {"resources:VGPU": "1", "Accelerator:Vendor": "NVIDIA", "Accelerator:Model": "T4"},
            (1, "NVIDIA", "T4"),
        ),
        ("g3.mi50-passthrough", {"pci_passthrough:alias": "MI50:1"}, (1, None, "MI50")),  # vendor not guessed
        ("plain", {"resources:VGPU": "2"}, (2, None, None)),
        ("g.a40", {"resources:VGPU": "1"}, (1, None, "a40")),  # count from specs, model from the name
    ],
)
def test_gpu_from_extra_specs_then_name(name: str, specs: dict[str, str], expected: tuple | None) -> None:
    gpu, evidence = classify_gpu(name, specs)
    if expected is None:
        assert gpu is None and evidence == []
    else:
        assert gpu is not None
        assert (gpu.count, gpu.vendor, gpu.model) == expected
        assert evidence, "a GPU decision must say why"


def test_flavor_keeps_sizes_and_records_evidence() -> None:
    flavor = classify_flavor(
        FlavorFacts(id="f1", name="g1.gpu-v100", vcpus=8, ram=32768, disk=100, extra_specs={"Accelerator:Number": "1"})
    )
    assert (flavor.vcpus, flavor.ram, flavor.disk, flavor.ephemeral) == (8, 32768, 100, 0)
    assert flavor.gpu is not None and flavor.gpu.count == 1
    assert flavor.classified_by[0] == "gpu:extra_spec:Accelerator"


# --------------------------------------------------------------------------------------------------- images


@pytest.mark.parametrize(
    ("name", "properties", "family", "distro", "version", "appliances"),
    [
        ("Image for EGI Ubuntu 22.04 [Ubuntu/22.04/VirtualBox]", {}, "linux", "ubuntu", "22.04", []),
        ("Image for EGI Docker [Ubuntu/22.04/VirtualBox]", {}, "linux", "ubuntu", "22.04", ["docker"]),
        ("ubuntu-22.04-docker", {}, "linux", "ubuntu", "22.04", ["docker"]),
        ("AlmaLinux 9", {}, "linux", "almalinux", "9", []),
        ("CentOS-7", {}, "linux", "centos", "7", []),
        ("centos-stream-9", {}, "linux", "centos", "9", []),
        ("Rocky Linux 8.7", {}, "linux", "rocky", "8.7", []),
        ("Debian 12 bookworm", {}, "linux", "debian", "12", []),
        ("ubuntu jammy jupyterlab", {}, "linux", "ubuntu", "22.04", ["jupyter"]),
        ("ubuntu-20.04.6-server", {}, "linux", "ubuntu", "20.04", []),
        ("Windows Server 2022", {}, "windows", "windows", "2022", []),
        ("ubuntu-22.04-cuda12", {}, "linux", "ubuntu", "22.04", ["cuda"]),
        ("my-snapshot", {}, None, None, None, []),
        # properties win over the name, and opaque names are classified from properties alone
        (
            "img-9b3e7a10",
            {"os_distro": "almalinux", "os_version": "9", "os_type": "linux"},
            "linux",
            "almalinux",
            "9",
            [],
        ),
        ("Ubuntu 20.04", {"os_distro": "ubuntu", "os_version": "22.04"}, "linux", "ubuntu", "22.04", []),
        ("Rocky-9", {"os_distro": "rocky", "os_version": "9.3"}, "linux", "rocky", "9.3", []),
        # AppDB / EGI marketplace description properties
        (
            "img-c04d55e2",
            {"eu.egi.cloud.description": "Ubuntu 20.04 with Docker"},
            "linux",
            "ubuntu",
            "20.04",
            ["docker"],
        ),
        (
            "appliance-17",
            {"ad:title": "EGI Jupyter [Ubuntu/22.04/VirtualBox]"},
            "linux",
            "ubuntu",
            "22.04",
            ["jupyter"],
        ),
        (
            "Jupyter DataScience (Ubuntu 22.04)",
            {"eu.egi.cloud.description": "JupyterLab with the scipy stack, Docker preinstalled"},
            "linux",
            "ubuntu",
            "22.04",
            ["docker", "jupyter"],
        ),
    ],
)
def test_image_os_and_appliances(
    name: str, properties: dict, family: str | None, distro: str | None, version: str | None, appliances: list[str]
) -> None:
    image = classify_image(ImageFacts(id="i", name=name, properties=properties))
    assert (image.os_family, image.os_distro, image.os_version) == (family, distro, version)
    assert image.appliances == appliances


def test_image_evidence_says_property_or_name() -> None:
    by_property = classify_image(
        ImageFacts(id="i", name="x", properties={"os_distro": "ubuntu", "os_version": "22.04"})
    )
    by_name = classify_image(ImageFacts(id="i", name="AlmaLinux 9"))
    assert "os:property:os_distro" in by_property.classified_by
    assert "os:name" in by_name.classified_by


@pytest.mark.parametrize(
    ("name", "properties", "arch"),
    [
        ("cirros-0.6.2-x86_64-disk", {}, "x86_64"),
        ("ubuntu-arm64", {}, "aarch64"),
        ("u", {"architecture": "amd64"}, "x86_64"),
    ],
)
def test_architecture(name: str, properties: dict, arch: str) -> None:
    assert classify_image(ImageFacts(id="i", name=name, properties=properties)).architecture == arch


@given(st.text(max_size=80), st.dictionaries(st.text(max_size=20), st.text(max_size=40), max_size=5))
def test_image_classification_never_crashes(name: str, properties: dict[str, str]) -> None:
    image = classify_image(ImageFacts(id="i", name=name, properties=properties))
    assert image.os_family is None or image.os_distro is not None or "os_family:property:os_type" in image.classified_by


@given(
    st.text(max_size=60),
    st.dictionaries(
        st.sampled_from(["Accelerator:Number", "pci_passthrough:alias", "resources:VGPU", "Accelerator:Model"]),
        st.text(max_size=20),
    ),
)
def test_gpu_classification_never_crashes(name: str, specs: dict[str, str]) -> None:
    gpu, _ = classify_gpu(name, specs)
    assert gpu is None or gpu.count >= 1


# --------------------------------------------------------------------------------------------------- networks


def _vo(networks: list, pools: set[str] | None = None, fips_allowed: bool = True) -> SiteVO:
    return SiteVO(
        vo="vo", project_id=PROJECT, networks=classify_networks(networks, PROJECT, pools or set(), fips_allowed)
    )


def test_router_external_is_public_through_floating_ips() -> None:
    vo = _vo(
        [
            NetworkFacts("n1", "private", project_id=PROJECT, cidrs=("172.16.8.0/24",)),
            NetworkFacts("n2", "public", external=True, project_id="admin", cidrs=("193.146.75.0/24",)),
        ]
    )
    public = vo.public_network()
    assert public is not None and public.name == "public"
    assert public.access is PublicAccess.FLOATING_IP
    assert "router:external" in public.evidence
    assert vo.private_network() is not None and vo.private_network().name == "private"
    assert vo.attach_network().name == "private"


def test_external_network_with_any_name_wins_over_name_pattern() -> None:
    vo = _vo(
        [
            NetworkFacts("n1", "public-lab", shared=True, project_id="admin", cidrs=("10.1.0.0/16",)),
            NetworkFacts("n2", "internet", external=True, project_id="admin", cidrs=("193.136.75.0/24",)),
        ]
    )
    assert vo.public_network().name == "internet"


def test_provider_network_with_public_addresses_is_direct() -> None:
    vo = _vo(
        [
            NetworkFacts(
                "n1", "provider-1320", shared=True, project_id="admin", cidrs=("147.213.76.0/22",), provider_type="vlan"
            )
        ],
        fips_allowed=False,
    )
    public = vo.public_network()
    assert public is not None and public.access is PublicAccess.DIRECT
    assert "public-addresses" in public.evidence
    assert vo.private_network() is None
    assert vo.attach_network() is public


def test_shared_internal_network_is_private_not_public() -> None:
    vo = _vo(
        [
            NetworkFacts("n1", "external", external=True, project_id="admin", cidrs=("149.156.11.0/24",)),
            NetworkFacts("n2", "internal", shared=True, project_id="admin", cidrs=("10.10.0.0/16",)),
        ]
    )
    roles = {n.name: n.role for n in vo.networks}
    assert roles == {"external": NetworkRole.PUBLIC, "internal": NetworkRole.PRIVATE}
    assert vo.attach_network().name == "internal"


def test_no_public_network_at_all() -> None:
    vo = _vo([NetworkFacts("n1", "cesga-internal", project_id=PROJECT, cidrs=("10.38.0.0/24",))])
    assert vo.public_network() is None
    assert vo.private_network().role is NetworkRole.VO_PRIVATE


def test_floating_ip_pool_evidence_without_router_external() -> None:
    vo = _vo([NetworkFacts("n1", "fip-pool", project_id="admin", cidrs=("10.200.0.0/24",))], pools={"n1"})
    public = vo.public_network()
    assert public is not None and public.evidence == ["floating-ip-pool"]


def test_name_pattern_is_the_weakest_evidence() -> None:
    vo = _vo(
        [
            NetworkFacts("n1", "ext-net", shared=True, project_id="admin"),
            NetworkFacts("n2", "wan-provider", shared=True, project_id="admin", cidrs=("147.213.0.0/24",)),
        ]
    )
    assert [n.name for n in vo.networks] == ["wan-provider", "ext-net"]
    assert vo.networks[1].evidence == ["name-pattern:ext-net"]


def test_private_addresses_contradict_a_public_looking_name() -> None:
    vo = _vo([NetworkFacts("n1", "public", project_id=PROJECT, cidrs=("192.168.0.0/24",))])
    assert vo.public_network() is None


def test_shared_external_network_without_floating_ip_quota_is_direct() -> None:
    vo = _vo([NetworkFacts("n1", "public", external=True, shared=True, cidrs=("193.1.1.0/24",))], fips_allowed=False)
    assert vo.public_network().access is PublicAccess.DIRECT


@pytest.mark.parametrize(
    ("cidrs", "public"),
    [
        (["10.0.0.0/8"], False),
        (["172.16.0.0/12"], False),
        (["192.168.1.0/24"], False),
        (["100.64.0.0/10"], False),
        (["2001:db8::/64"], False),
        (["2a00:1450::/64"], False),  # IPv6 does not count: private networks often carry global v6
        (["193.146.75.0/24"], True),
        (["nonsense"], False),
    ],
)
def test_public_addresses(cidrs: list[str], public: bool) -> None:
    assert has_public_addresses(cidrs) is public

"""The launcher's path through a site, end to end through openstacksdk: keypair, boot with user_data, ACTIVE,
floating IP, teardown; and what the simulator reports at each step."""

from __future__ import annotations

import base64

import openstack
import pytest

from execplanner.simcloud import SimFederation
from execplanner.simcloud.connect import connect

from .refusals import REFUSED, http_status

CLOUD_INIT = base64.b64encode(b"#cloud-config\nruncmd:\n  - [docker, run, hello-world]\n").decode()
PUBLIC_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBv6l4Cw1T9jX1xkO8b5Tq4pZq9k9f5yHq2f0tKXvG2x test@example"


def _image(conn: openstack.connection.Connection, name: str) -> str:
    return next(i.id for i in conn.image.images() if i.name == name)


def _network(conn: openstack.connection.Connection, name: str) -> str:
    return next(n.id for n in conn.network.networks(name=name))


def test_boot_attach_floating_ip_and_tear_down(simcloud_fresh: SimFederation) -> None:
    fed = simcloud_fresh
    conn = connect(fed, "IN2P3-IRES")
    keypair = conn.compute.create_keypair(name="session-1234", public_key=PUBLIC_KEY)
    flavor = conn.compute.find_flavor("m1.large", ignore_missing=False)
    server = conn.compute.create_server(
        name="execplanner-1234",
        flavor_id=flavor.id,
        image_id=_image(conn, "ubuntu-22.04-docker"),
        key_name=keypair.name,
        networks=[{"uuid": _network(conn, "int-net")}],
        user_data=CLOUD_INIT,
        metadata={"execplanner-session": "1234"},
        tags=["execplanner"],
    )
    assert fed.state("IN2P3-IRES").server("execplanner-1234").status == "BUILD"
    server = conn.compute.wait_for_server(server, interval=0.05, wait=10)
    assert server.status == "ACTIVE"

    external = next(conn.network.networks(is_router_external=True))
    assert external.name == "ext-net"
    fip = conn.network.create_ip(floating_network_id=external.id)
    port = next(conn.network.ports(device_id=server.id))
    conn.network.update_ip(fip, port_id=port.id)

    seen = fed.state("IN2P3-IRES").server("execplanner-1234")
    assert seen.user_data == CLOUD_INIT
    assert seen.metadata == {"execplanner-session": "1234"}
    assert seen.tags == ["execplanner"]
    assert seen.key_name == "session-1234"
    assert seen.flavor == "m1.large"
    assert fip.floating_ip_address in seen.addresses["int-net"]
    addresses = conn.compute.get_server(server.id).addresses["int-net"]
    assert {a["OS-EXT-IPS:type"] for a in addresses} == {"fixed", "floating"}
    assert conn.compute.get_limits().absolute.instances_used == 1

    conn.compute.delete_server(server)
    conn.network.delete_ip(fip)
    conn.compute.delete_keypair(keypair)
    state = fed.state("IN2P3-IRES")
    assert (state.servers, state.floating_ips, state.keypairs, state.ports) == ([], [], [], 0)


def test_deleting_a_server_leaves_its_floating_ip_allocated_but_free(simcloud_fresh: SimFederation) -> None:
    conn = connect(simcloud_fresh, "IFCA-LCG2")
    server = conn.compute.create_server(
        name="leaky",
        flavor_id=conn.compute.find_flavor("cm4.small", ignore_missing=False).id,
        image_id=_image(conn, "Image for EGI Ubuntu 22.04 [Ubuntu/22.04/VirtualBox]"),
        networks=[{"uuid": _network(conn, "private")}],
    )
    conn.compute.wait_for_server(server, interval=0.05, wait=10)
    fip = conn.network.create_ip(
        floating_network_id=_network(conn, "public"), port_id=next(conn.network.ports(device_id=server.id)).id
    )
    conn.compute.delete_server(server)
    left = conn.network.get_ip(fip.id)
    assert left.port_id is None and left.status == "DOWN"


def test_provider_network_gives_a_public_address_directly(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "IISAS-FedCloud")
    provider = next(conn.network.networks(name="provider-1320"))
    assert provider.is_router_external is False and provider.is_shared is True
    assert list(conn.network.networks(is_router_external=True)) == []
    server = conn.compute.create_server(
        name="direct",
        flavor_id=conn.compute.find_flavor("cor2mem4hd40", ignore_missing=False).id,
        image_id=_image(conn, "Ubuntu-22.04-Docker"),
    )  # the only network: auto
    server = conn.compute.wait_for_server(server, interval=0.05, wait=10)
    address = server.addresses["provider-1320"][0]["addr"]
    assert address.startswith("127.")  # a loopback address of its own: the simulated VM answers there
    conn.compute.delete_server(server)


def test_several_networks_and_none_chosen_is_a_conflict(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "IFCA-LCG2", vo="vo.escape.eu")
    with pytest.raises(openstack.exceptions.HttpException) as caught:
        conn.compute.create_server(
            name="x",
            flavor_id=conn.compute.find_flavor("cm4.small", ignore_missing=False).id,
            image_id=_image(conn, "Image for EGI Ubuntu 22.04 [Ubuntu/22.04/VirtualBox]"),
            networks=[{"uuid": _network(conn, "public")}],
        )
    assert caught.value.status_code == 403  # Nova refuses a port on an external network


def test_gpu_flavors_carry_their_extra_specs(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "IFCA-LCG2")
    specs = {f.name: f.extra_specs for f in conn.compute.flavors(get_extra_specs=True)}
    assert specs["g1.gpu-v100"]["Accelerator:Model"] == "Tesla V100"
    assert specs["g2.gpu-a100x2"]["Accelerator:Number"] == "2"
    assert specs["vg1.t4"]["resources:VGPU"] == "1"
    assert specs["cm4.small"] == {}


def test_images_carry_properties_and_respect_visibility(simcloud: SimFederation) -> None:
    access = connect(simcloud, "IFCA-LCG2")
    ai4eosc = connect(simcloud, "IFCA-LCG2", vo="vo.ai4eosc.eu")
    assert "ubuntu-22.04-cuda12" not in {i.name for i in access.image.images()}
    cuda = next(i for i in ai4eosc.image.images() if i.name == "ubuntu-22.04-cuda12")
    assert cuda.visibility == "private" and cuda.os_distro == "ubuntu"
    docker = next(i for i in access.image.images() if "Docker" in i.name)
    assert docker.properties["ad:appid"] == "1145"
    in2p3 = connect(simcloud, "IN2P3-IRES")
    assert "debian-12" not in {i.name for i in in2p3.image.images()}  # community: Glance hides it by default
    assert "debian-12" in {i.name for i in in2p3.image.images(visibility="all")}


def test_boot_beyond_quota_is_refused_as_nova_does(simcloud_fresh: SimFederation) -> None:
    conn = connect(simcloud_fresh, "CYFRONET-CLOUD")  # quota: 5 instances, 16 cores
    flavor = conn.compute.find_flavor("cpu4-ram8", ignore_missing=False)
    image = _image(conn, "img-2f81c0d4")
    for n in range(4):
        conn.compute.create_server(name=f"vm-{n}", flavor_id=flavor.id, image_id=image)
    with pytest.raises(openstack.exceptions.HttpException) as caught:
        conn.compute.create_server(name="one-too-many", flavor_id=flavor.id, image_id=image)
    assert caught.value.status_code == 403
    assert "Quota exceeded for cores: Requested 4, but already used 16 of 16 cores" in str(caught.value)
    assert len(simcloud_fresh.state("CYFRONET-CLOUD").servers) == 4
    quota = conn.compute.get_quota_set(conn.current_project_id, usage=True)
    assert quota.usage["cores"] == 16


def test_floating_ip_quota_and_pool_exhaustion(simcloud_fresh: SimFederation) -> None:
    """CYFRONET: floating-IP quota 2 per project, pool of 3 addresses for the whole site."""
    access, dteam = connect(simcloud_fresh, "CYFRONET-CLOUD"), connect(simcloud_fresh, "CYFRONET-CLOUD", vo="dteam")
    external = _network(access, "external")
    access.network.create_ip(floating_network_id=external)
    access.network.create_ip(floating_network_id=external)
    with pytest.raises(openstack.exceptions.HttpException) as over_quota:
        access.network.create_ip(floating_network_id=external)
    assert over_quota.value.status_code == 409 and "Quota exceeded" in str(over_quota.value)
    dteam.network.create_ip(floating_network_id=external)
    with pytest.raises(openstack.exceptions.HttpException) as empty:
        dteam.network.create_ip(floating_network_id=external)
    assert empty.value.status_code == 409 and "No more IP addresses available" in str(empty.value)
    assert len(simcloud_fresh.state("CYFRONET-CLOUD").floating_ips) == 3


def test_site_without_external_network_offers_no_floating_ips(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "CESGA-CLOUD", vo="vo.escape.eu")
    assert list(conn.network.networks(is_router_external=True)) == []
    assert [n.name for n in conn.network.networks()] == ["cesga-internal"]


def test_bad_token_on_a_service_call_is_401(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "IN2P3-IRES", token="forged")
    with pytest.raises(REFUSED) as caught:
        list(conn.network.networks())
    assert http_status(caught.value) == 401

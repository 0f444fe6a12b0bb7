"""Every fault kind, injected from Python, over HTTP and from a federation file, seen through openstacksdk."""

from __future__ import annotations

import time

import openstack
import pytest
import requests
from keystoneauth1.exceptions.connection import ConnectionError as KsConnectionError

from execplanner.simcloud import SimFederation
from execplanner.simcloud.connect import connect
from execplanner.simcloud.spec import FaultSpec, load_federation

UBUNTU = "ubuntu-22.04"


def _boot(conn: openstack.connection.Connection, name: str) -> openstack.compute.v2.server.Server:
    image = next(i.id for i in conn.image.images() if i.name == UBUNTU)
    network = next(conn.network.networks(name="int-net")).id
    flavor = conn.compute.find_flavor("m1.small", ignore_missing=False).id
    return conn.compute.create_server(name=name, flavor_id=flavor, image_id=image, networks=[{"uuid": network}])


def test_error_fault_fails_one_call_then_clears(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "IN2P3-IRES")
    list(conn.compute.flavors())  # authenticate before the fault
    simcloud.faults.inject("IN2P3-IRES", "compute.flavors.list", "error", status=503, times=1)
    with pytest.raises(openstack.exceptions.HttpException) as caught:
        list(conn.compute.flavors())
    assert caught.value.status_code == 503
    assert len(list(conn.compute.flavors())) == 5


def test_timeout_fault_hangs_the_call(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "IN2P3-IRES", api_timeout=0.3)
    list(conn.network.networks())
    simcloud.faults.inject("IN2P3-IRES", "network.networks.list", "timeout", seconds=1.5, times=1)
    started = time.monotonic()
    with pytest.raises((openstack.exceptions.SDKException, KsConnectionError)):
        list(conn.network.networks())
    assert time.monotonic() - started < 1.4


def test_quota_fault_on_server_create(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "IN2P3-IRES")
    simcloud.faults.inject("IN2P3-IRES", "compute.servers.create", "quota")
    with pytest.raises(openstack.exceptions.HttpException) as caught:
        _boot(conn, "never")
    assert caught.value.status_code == 403 and "Quota exceeded" in str(caught.value)


def test_server_error_fault_makes_the_server_go_to_error(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "IN2P3-IRES")
    simcloud.faults.inject("IN2P3-IRES", "compute.servers.create", "server_error", message="No valid host")
    server = _boot(conn, "doomed")
    with pytest.raises(openstack.exceptions.ResourceFailure):
        conn.compute.wait_for_server(server, interval=0.05, wait=10)
    assert conn.compute.get_server(server.id).fault["message"] == "No valid host"
    conn.compute.delete_server(server)


def test_stuck_fault_keeps_the_server_in_build(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "IN2P3-IRES")
    simcloud.faults.inject("IN2P3-IRES", "compute.servers.create", "stuck")
    server = _boot(conn, "stuck")
    with pytest.raises(openstack.exceptions.ResourceTimeout):
        conn.compute.wait_for_server(server, interval=0.05, wait=0.6)  # boot delay is 0.2 s
    assert conn.compute.get_server(server.id).status == "BUILD"
    conn.compute.delete_server(server)


def test_pool_empty_fault_on_floating_ip(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "IN2P3-IRES")
    external = next(conn.network.networks(name="ext-net")).id
    simcloud.faults.inject("*", "network.floatingips.create", "pool_empty")
    with pytest.raises(openstack.exceptions.HttpException) as caught:
        conn.network.create_ip(floating_network_id=external)
    assert caught.value.status_code == 409 and "No more IP addresses available" in str(caught.value)


def test_faults_over_http_admin_path(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "IFCA-LCG2")
    list(conn.image.images())
    answer = requests.post(
        f"{simcloud.base_url}/_sim/faults",
        timeout=5,
        json={"site": "IFCA-LCG2", "call": "image.images.*", "kind": "error", "status": 500, "times": 2},
    )
    assert answer.status_code == 201
    assert [f["call"] for f in requests.get(f"{simcloud.base_url}/_sim/faults", timeout=5).json()["faults"]] == [
        "image.images.*"
    ]
    for _ in range(2):
        with pytest.raises(openstack.exceptions.HttpException):
            list(conn.image.images())
    assert list(conn.image.images())
    requests.post(f"{simcloud.base_url}/_sim/faults", json={"call": "*", "kind": "error"}, timeout=5)
    assert requests.delete(f"{simcloud.base_url}/_sim/faults", timeout=5).status_code == 204
    assert simcloud.faults.active() == []


def test_faults_from_the_federation_file() -> None:
    spec = load_federation()
    spec.site("CESGA-CLOUD").faults = [FaultSpec(call="compute.flavors.list", kind="error", status=502, times=None)]
    with SimFederation.start(spec=spec) as fed:
        conn = connect(fed, "CESGA-CLOUD", vo="vo.escape.eu")
        for _ in range(2):
            with pytest.raises(openstack.exceptions.HttpException) as caught:
                list(conn.compute.flavors())
            assert caught.value.status_code == 502


def test_slow_site_answers_every_call_late(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "NCG-INGRID-PT")
    slow = simcloud.federation.sites["NCG-INGRID-PT"].spec.response_delay  # 0.6 s, from sites.yaml
    simcloud.set_response_delay("NCG-INGRID-PT", 0.0)  # sign in (Keystone, version documents) without the wait
    try:
        list(conn.compute.flavors())
    finally:
        simcloud.set_response_delay("NCG-INGRID-PT", slow)
    started = time.monotonic()
    assert len(list(conn.compute.flavors())) == 4
    assert time.monotonic() - started >= 0.6
    fast = connect(simcloud, "IN2P3-IRES")
    list(fast.compute.flavors())
    started = time.monotonic()
    list(fast.compute.flavors())
    assert time.monotonic() - started < 0.5


def test_slow_fault_answers_late_but_answers(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "IN2P3-IRES", api_timeout=5)
    list(conn.compute.flavors())
    simcloud.faults.inject("IN2P3-IRES", "compute.flavors.list", "slow", seconds=0.4, times=1)
    started = time.monotonic()
    assert len(list(conn.compute.flavors())) == 5
    assert time.monotonic() - started >= 0.4


def test_a_held_call_is_still_carried_out_after_the_client_gave_up(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "IN2P3-IRES", api_timeout=0.3)
    list(conn.network.networks())
    simcloud.faults.inject("IN2P3-IRES", "network.security_groups.create", "timeout", seconds=0.8, times=1)
    with pytest.raises((openstack.exceptions.SDKException, KsConnectionError)):
        conn.network.create_security_group(name="late-group")
    assert simcloud.faults.held() == 1
    deadline = time.monotonic() + 5
    while simcloud.faults.held() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [g.name for g in conn.network.security_groups(name="late-group")] == ["late-group"]


def test_server_delete_faults_keep_the_server(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "IN2P3-IRES")
    server = _boot(conn, "hard-to-kill")
    conn.compute.wait_for_server(server, interval=0.05, wait=10)
    simcloud.faults.inject("IN2P3-IRES", "compute.servers.delete", "stuck")
    conn.compute.delete_server(server)
    assert conn.compute.get_server(server.id).status == "ACTIVE"
    simcloud.faults.inject("IN2P3-IRES", "compute.servers.delete", "server_error", message="host unreachable")
    conn.compute.delete_server(server)
    failed = conn.compute.get_server(server.id)
    assert failed.status == "ERROR" and failed.fault["message"] == "host unreachable"
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, interval=0.05, wait=5)


def test_server_error_fault_on_a_volume_create_makes_it_go_to_error(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "IN2P3-IRES")
    simcloud.faults.inject("IN2P3-IRES", "volume.volumes.create", "server_error")
    volume = conn.block_storage.create_volume(name="doomed-volume", size=1)
    deadline = time.monotonic() + 5
    while conn.block_storage.get_volume(volume.id).status == "creating" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert conn.block_storage.get_volume(volume.id).status == "error"
    conn.block_storage.delete_volume(volume.id)

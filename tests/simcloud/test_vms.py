"""The simulated VM: once ACTIVE it answers at its own loopback addresses, on the ports its security groups
open and its cloud-init declares, and stops answering when deleted."""

from __future__ import annotations

import base64
import ipaddress
import json
import socket
import time
from collections.abc import Callable

import openstack
import pytest
import requests
import yaml

from execplanner.simcloud import SimFederation
from execplanner.simcloud.connect import connect
from execplanner.simcloud.vms import MANIFEST_PATH

SITE = "IN2P3-IRES"
WAIT = 10.0


def _user_data(services: list[dict[str, object]]) -> str:
    manifest = json.dumps({"session": "test", "services": services})
    doc = {"write_files": [{"path": MANIFEST_PATH, "content": manifest}], "runcmd": [["true"]]}
    return base64.b64encode(("#cloud-config\n" + yaml.safe_dump(doc)).encode()).decode()


def _eventually(check: Callable[[], bool]) -> bool:
    """Poll a condition the VM host reaches on its own (it reconciles every 50 ms)."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def _answers(address: str, port: int) -> bool:
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


def _open(conn: openstack.connection.Connection, name: str, ports: list[int]) -> str:
    group = conn.network.create_security_group(name=name)
    for port in ports:
        conn.network.create_security_group_rule(
            security_group_id=group.id,
            direction="ingress",
            protocol="tcp",
            port_range_min=port,
            port_range_max=port,
            remote_ip_prefix="0.0.0.0/0",
        )
    return group.name


def _boot(conn: openstack.connection.Connection, name: str, group: str, user_data: str) -> tuple[str, str]:
    image = next(i.id for i in conn.image.images() if i.name == "ubuntu-22.04-docker")
    network = next(conn.network.networks(name="int-net")).id
    server = conn.compute.create_server(
        name=name,
        flavor_id=conn.compute.find_flavor("m1.small", ignore_missing=False).id,
        image_id=image,
        networks=[{"uuid": network}],
        security_groups=[{"name": group}],
        user_data=user_data,
    )
    server = conn.compute.wait_for_server(server, interval=0.05, wait=WAIT)
    external = next(conn.network.networks(is_router_external=True))
    fip = conn.network.create_ip(floating_network_id=external.id)
    port = next(conn.network.ports(device_id=server.id))
    conn.network.update_ip(fip, port_id=port.id)
    return server.id, fip.floating_ip_address


@pytest.fixture
def conn(simcloud_fresh: SimFederation) -> openstack.connection.Connection:
    return connect(simcloud_fresh, SITE)


def test_active_vm_answers_its_declared_open_ports_at_its_floating_ip(
    simcloud_fresh: SimFederation, conn: openstack.connection.Connection
) -> None:
    group = _open(conn, "web", [3000, 22])
    data = _user_data([{"port": 3000, "kind": "web"}, {"port": 4000, "kind": "web"}])
    server_id, address = _boot(conn, "vm-web", group, data)
    assert ipaddress.ip_address(address) in ipaddress.ip_network("127.0.0.0/8")

    assert _eventually(lambda: _answers(address, 3000))
    page = requests.get(f"http://{address}:3000/", timeout=5)
    assert page.status_code == 200 and "vm-web" in page.text
    with socket.create_connection((address, 22), timeout=2) as ssh:
        assert ssh.recv(64).startswith(b"SSH-2.0-")
    assert not _answers(address, 4000)  # declared but no rule opens it

    conn.compute.delete_server(server_id)
    assert _eventually(lambda: not _answers(address, 3000))


def test_notebook_server_wants_its_token(simcloud_fresh: SimFederation, conn: openstack.connection.Connection) -> None:
    group = _open(conn, "jupyter", [8888])
    data = _user_data([{"port": 8888, "kind": "jupyter", "token": "s3cret"}])
    _, address = _boot(conn, "vm-notebook", group, data)
    assert _eventually(lambda: _answers(address, 8888))

    assert requests.get(f"http://{address}:8888/api", timeout=5).json()["version"]
    opened = requests.get(f"http://{address}:8888/lab?token=s3cret", timeout=5)
    assert opened.status_code == 200 and "JupyterLab" in opened.text
    refused = requests.get(f"http://{address}:8888/lab?token=wrong", timeout=5, allow_redirects=False)
    assert refused.status_code == 302 and refused.headers["location"].startswith("/login")


def test_default_group_opens_nothing_to_the_world(
    simcloud_fresh: SimFederation, conn: openstack.connection.Connection
) -> None:
    _, address = _boot(conn, "vm-closed", "default", _user_data([{"port": 3000, "kind": "web"}]))
    assert simcloud_fresh.vms.wait_pass()
    assert not _answers(address, 3000)
    assert (address, 3000) not in simcloud_fresh.listening()


def test_user_data_is_kept_for_inspection(simcloud_fresh: SimFederation, conn: openstack.connection.Connection) -> None:
    data = _user_data([{"port": 3000, "kind": "web"}])
    server_id, _ = _boot(conn, "vm-inspect", "default", data)
    kept = simcloud_fresh.user_data(SITE, server_id)
    assert kept is not None and kept.startswith("#cloud-config")
    assert yaml.safe_load(kept)["write_files"][0]["path"] == MANIFEST_PATH


def test_keystone_down_is_a_503_for_every_identity_call(simcloud_fresh: SimFederation) -> None:
    simcloud_fresh.faults.keystone_down(SITE)
    with pytest.raises(Exception, match="503|Keystone is unavailable"):
        connect(simcloud_fresh, SITE).compute.flavors().__next__()


def test_vm_http_faults_reach_the_vm_and_only_rules_naming_it_do(
    simcloud_fresh: SimFederation, conn: openstack.connection.Connection
) -> None:
    group = _open(conn, "faulty-web", [3000])
    _, address = _boot(conn, "vm-faulty", group, _user_data([{"port": 3000, "kind": "web"}]))
    assert _eventually(lambda: _answers(address, 3000))
    simcloud_fresh.faults.inject(SITE, "*", "error", status=500, times=None)  # the APIs' rule, not the VM's
    assert requests.get(f"http://{address}:3000/", timeout=5).status_code == 200
    simcloud_fresh.faults.clear()
    simcloud_fresh.faults.inject(SITE, "vm.http", "error", status=503, times=1)
    assert requests.get(f"http://{address}:3000/", timeout=5).status_code == 503
    simcloud_fresh.faults.inject(SITE, "vm.http", "stuck", times=1)
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{address}:3000/", timeout=5)
    assert requests.get(f"http://{address}:3000/", timeout=5).status_code == 200

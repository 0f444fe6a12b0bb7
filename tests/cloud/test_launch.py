"""Launch and teardown through the real openstacksdk over HTTP to the simulated federation."""

from __future__ import annotations

import socket
import time
import uuid
from typing import Any

import pytest
import requests

from execplanner.cloud.connection import OidcToken, SiteProject, connect
from execplanner.cloud.launch import LaunchSpec, launch, sessions_present, teardown
from execplanner.cloud.userdata import render
from execplanner.errors import CloudError
from execplanner.model.documents import Executable, Execution, Image, Port
from execplanner.model.requirements import ExecutableKind
from execplanner.simcloud import SimFederation

VO = "vo.access.egi.eu"
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBv6l4Cw1T9jX1xkO8b5Tq4pZq9k9f5yHq2f0tKXvG2x test@example"
WEB = Execution(
    executable=Executable(
        kind=ExecutableKind.DOCKER_CONTAINER, image=Image(locations=["oligia/desktop"]), ports=[Port(internal=3000)]
    )
)


def _conn(fed: SimFederation, site: str) -> Any:
    sim = fed.site(site)
    return connect(SiteProject(site, sim.auth_url, sim.vos[VO]), OidcToken(fed.demo_token), timeout=10)


def _spec(
    conn: Any, session: uuid.UUID, flavor: str, image: str, network: str | None, public: str | None
) -> LaunchSpec:
    image_id = next(i.id for i in conn.image.images() if i.name == image)
    network_id = next(conn.network.networks(name=network)).id if network else None
    external = next(iter(conn.network.networks(is_router_external=True)), None)
    return LaunchSpec(
        session=session,
        flavor_id=conn.compute.find_flavor(flavor, ignore_missing=False).id,
        image_id=image_id,
        network_id=network_id,
        user_data=render(WEB, str(session), "t").text,
        ports=(3000,),
        public_key=KEY,
        public_network_id=external.id if external else None,
        public_access=public,
    )


def _wait_answer(url: str) -> requests.Response:
    deadline = time.monotonic() + 10
    while True:
        try:
            return requests.get(url, timeout=2)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_launch_answers_then_teardown_leaves_nothing(simcloud_fresh: SimFederation) -> None:
    fed, session = simcloud_fresh, uuid.uuid4()
    conn = _conn(fed, "IN2P3-IRES")
    spec = _spec(conn, session, "m1.small", "ubuntu-22.04-docker", "int-net", "floating-ip")
    steps: list[str] = []
    launched = launch(conn, spec, time.monotonic() + 20, steps.append)
    assert launched.address and launched.address.startswith("127.")
    assert _wait_answer(f"http://{launched.address}:3000/").status_code == 200
    with socket.create_connection((launched.address, 22), timeout=2) as ssh:  # a key was given: 22 is open
        assert ssh.recv(8) == b"SSH-2.0-"
    again = launch(conn, spec, time.monotonic() + 20)  # a retried launch finds what exists
    assert again.server_id == launched.server_id and again.floating_ip_id == launched.floating_ip_id
    assert len(fed.state("IN2P3-IRES").servers) == 1
    assert sessions_present(conn) == {session}

    teardown(conn, session, time.monotonic() + 20)
    state = fed.state("IN2P3-IRES")
    assert state.servers == [] and state.floating_ips == [] and state.keypairs == []
    assert sessions_present(conn) == set()
    assert teardown(conn, session, time.monotonic() + 5) == []  # safe to repeat


def test_direct_provider_network_uses_the_fixed_address(simcloud_fresh: SimFederation) -> None:
    conn = _conn(simcloud_fresh, "IISAS-FedCloud")
    spec = _spec(conn, uuid.uuid4(), "cor2mem4hd40", "Ubuntu-22.04-Docker", "provider-1320", "direct")
    launched = launch(conn, spec, time.monotonic() + 20)
    assert launched.floating_ip_id is None and launched.address in launched.fixed_addresses
    assert _wait_answer(f"http://{launched.address}:3000/").status_code == 200


def test_boot_error_carries_novas_message(simcloud_fresh: SimFederation) -> None:
    simcloud_fresh.faults.inject("IN2P3-IRES", "compute.servers.create", "server_error", message="host on fire")
    conn = _conn(simcloud_fresh, "IN2P3-IRES")
    spec = _spec(conn, uuid.uuid4(), "m1.small", "ubuntu-22.04-docker", "int-net", "floating-ip")
    with pytest.raises(CloudError, match="ERROR: host on fire"):
        launch(conn, spec, time.monotonic() + 20)


def test_no_floating_ip_left_is_a_clear_failure(simcloud_fresh: SimFederation) -> None:
    simcloud_fresh.faults.inject("IN2P3-IRES", "network.floatingips.create", "pool_empty")
    conn = _conn(simcloud_fresh, "IN2P3-IRES")
    spec = _spec(conn, uuid.uuid4(), "m1.small", "ubuntu-22.04-docker", "int-net", "floating-ip")
    with pytest.raises(CloudError, match="attaching a floating IP: .*No more IP addresses"):
        launch(conn, spec, time.monotonic() + 20)


def test_build_for_ever_hits_the_deadline(simcloud_fresh: SimFederation) -> None:
    simcloud_fresh.faults.inject("IN2P3-IRES", "compute.servers.create", "stuck")
    conn = _conn(simcloud_fresh, "IN2P3-IRES")
    spec = _spec(conn, uuid.uuid4(), "m1.small", "ubuntu-22.04-docker", "int-net", "floating-ip")
    with pytest.raises(CloudError, match="still BUILD"):
        launch(conn, spec, time.monotonic() + 1)

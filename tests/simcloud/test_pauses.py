"""The `pause` fault: a call is done but its answer is held, so a test can stop a client at a chosen step (and
kill it there). Seen through openstacksdk, from Python and over the admin HTTP path."""

from __future__ import annotations

import threading
from typing import Any

import pytest
import requests

from execplanner.simcloud import SimFederation
from execplanner.simcloud.connect import connect

SITE = "IN2P3-IRES"


def _boot_in_thread(simcloud: SimFederation, name: str) -> tuple[threading.Thread, dict[str, Any]]:
    conn = connect(simcloud, SITE)
    image = next(i.id for i in conn.image.images() if i.name == "ubuntu-22.04")
    network = next(conn.network.networks(name="int-net")).id
    flavor = conn.compute.find_flavor("m1.small", ignore_missing=False).id
    answer: dict[str, Any] = {}

    def boot() -> None:
        server = conn.compute.create_server(name=name, flavor_id=flavor, image_id=image, networks=[{"uuid": network}])
        answer["id"] = server.id

    thread = threading.Thread(target=boot, daemon=True)
    thread.start()
    return thread, answer


def test_a_paused_call_is_done_but_its_answer_waits_for_the_release(simcloud: SimFederation) -> None:
    rule = simcloud.faults.pause(SITE, "compute.servers.create")
    thread, answer = _boot_in_thread(simcloud, "held-answer")
    simcloud.faults.wait_held(rule.id, timeout=10)
    assert [s.name for s in simcloud.state(SITE).servers if s.name == "held-answer"] == ["held-answer"]
    assert "id" not in answer  # the client does not know yet what it made

    assert simcloud.faults.release(rule.id)
    thread.join(timeout=10)
    assert answer["id"] == simcloud.state(SITE).server("held-answer").id
    assert simcloud.faults.active() == []


def test_a_pause_catches_only_its_times_and_then_lets_calls_through(simcloud: SimFederation) -> None:
    rule = simcloud.faults.pause(SITE, "compute.servers.create", times=1)
    first, _ = _boot_in_thread(simcloud, "caught")
    simcloud.faults.wait_held(rule.id, timeout=10)
    second, answer = _boot_in_thread(simcloud, "not-caught")
    second.join(timeout=10)
    assert "id" in answer  # the pause had caught its one call
    assert simcloud.faults.rule(rule.id).caught == 1  # type: ignore[union-attr]
    simcloud.faults.clear()  # clearing lets held answers go too
    first.join(timeout=10)
    assert not first.is_alive()


def test_pauses_over_the_admin_http_path(simcloud: SimFederation) -> None:
    base = f"{simcloud.base_url}/_sim/faults"
    created = requests.post(
        base, json={"site": SITE, "call": "compute.servers.create", "kind": "pause", "times": 1}, timeout=5
    )
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    thread, _ = _boot_in_thread(simcloud, "held-over-http")

    def held() -> int:
        return int(requests.get(f"{base}/{rule_id}", timeout=5).json()["held"])

    simcloud.faults.wait_held(rule_id, timeout=10)
    assert held() == 1
    assert requests.post(f"{base}/{rule_id}/release", timeout=5).status_code == 204
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert requests.get(f"{base}/{rule_id}", timeout=5).status_code == 404
    assert requests.post(f"{base}/{rule_id}/release", timeout=5).status_code == 404


def test_a_pause_with_seconds_lets_the_answer_go_by_itself(simcloud: SimFederation) -> None:
    rule = simcloud.faults.pause(SITE, "compute.servers.create", seconds=0.3)
    thread, answer = _boot_in_thread(simcloud, "held-briefly")
    simcloud.faults.wait_held(rule.id, timeout=10)
    thread.join(timeout=10)
    assert "id" in answer


def test_waiting_for_a_pause_that_never_holds_is_a_timeout(simcloud: SimFederation) -> None:
    rule = simcloud.faults.pause(SITE, "compute.servers.delete")
    with pytest.raises(TimeoutError):
        simcloud.faults.wait_held(rule.id, timeout=0.1)

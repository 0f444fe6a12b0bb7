"""Accepted sessions run: a real `execplanner serve` launching on the simulated federation with the real
openstacksdk over HTTP, and the URL it hands out answers on this machine."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
import requests

from execplanner.catalogue import Catalogue, default_catalogue_path
from execplanner.simcloud import SimFederation
from execplanner.simcloud.default_catalogue import CANONICAL_SIM_URL, rebase

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "requests"
JSON = {"Accept": "application/json", "Content-Type": "application/json"}
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBv6l4Cw1T9jX1xkO8b5Tq4pZq9k9f5yHq2f0tKXvG2x test@example"
FAST = {"EXECPLANNER_SCHEDULER_INTERVAL": "0.1", "EXECPLANNER_READY_TIMEOUT": "20"}
LIVE = ("READY", "AVAILABLE", "RUNNING")


def _example(name: str, **changes: Any) -> dict[str, Any]:
    document = json.loads((EXAMPLES / name).read_text())
    document.pop("schedule", None)  # start now
    document.update(changes)
    return document


def _direct(http: requests.Session, service: Any, document: dict[str, Any]) -> str:
    answer = http.post(service.url("/direct"), json=document, headers=JSON, allow_redirects=False)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def _session(http: requests.Session, url: str) -> dict[str, Any]:
    return http.get(url, headers=JSON).json()


def _messages(session: dict[str, Any]) -> str:
    return " | ".join(m["message"] for m in session.get("messages", []))


def _until(wait_for: Any, http: requests.Session, url: str, phases: tuple[str, ...], timeout: float = 60) -> dict:
    def reached() -> dict[str, Any] | None:
        session = _session(http, url)
        if session["phase"] in ("FAILED",) and "FAILED" not in phases:
            raise AssertionError(_messages(session))
        return session if session["phase"] in phases else None

    return wait_for(reached, timeout=timeout)


def _cancel(http: requests.Session, url: str) -> dict[str, Any]:
    update = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": "CANCELLED"}}
    return http.post(url, json=update, headers=JSON).json()


def test_notebook_becomes_available_with_a_jupyter_url_that_answers(
    service_factory: Any, http: requests.Session, wait_for: Any
) -> None:
    service = service_factory(EXECPLANNER_CLOUD="sim", **FAST)
    url = _direct(http, service, _example("jupyter-notebook.json"))
    session = _until(wait_for, http, url, LIVE)
    (jupyter,) = [a for a in session["executable"]["access"] if a["protocol"] == "jupyter"]
    link = jupyter["locations"][0]
    assert link.startswith("http://127.") and ":8888/lab?token=" in link
    opened = http.get(link, timeout=5)
    assert opened.status_code == 200 and "JupyterLab" in opened.text
    assert http.get(link.split("?")[0], timeout=5, allow_redirects=False).status_code == 302  # no token, no entry

    assert _cancel(http, url)["phase"] == "CANCELLED"
    wait_for(lambda: "cleanup: deleted server" in _messages(_session(http, url)), timeout=30)
    with pytest.raises(requests.ConnectionError):
        http.get(link, timeout=2)


def test_oligia_desktop_answers_at_its_port_and_ssh_is_offered(
    service_factory: Any, http: requests.Session, wait_for: Any
) -> None:
    service = service_factory(EXECPLANNER_CLOUD="sim", **FAST)
    url = _direct(http, service, _example("oligia-webtop.json", ssh_public_key=KEY))
    session = _until(wait_for, http, url, LIVE)
    (port,) = session["executable"]["network"]["ports"]
    address = port["external"]["addresses"][0]
    assert address.startswith("http://127.") and address.endswith(":3000/")
    assert http.get(address, timeout=5).status_code == 200
    ssh = [a["locations"][0] for a in session["executable"]["access"] if a["protocol"] == "ssh"]
    assert ssh and ssh[0].startswith("ssh ubuntu@127.")


def test_plan_only_service_says_so_in_accepted_sessions(
    service_factory: Any, http: requests.Session, wait_for: Any
) -> None:
    service = service_factory(EXECPLANNER_CLOUD="none", **FAST)
    url = _direct(http, service, _example("oligia-webtop.json"))
    session = wait_for(lambda: next((s for s in [_session(http, url)] if "plans only" in _messages(s)), None))
    assert session["phase"] == "ACCEPTED"
    assert "nothing will be launched" in _messages(session)


def test_a_key_that_is_not_an_ssh_key_is_a_400(app_factory: Any, http: requests.Session) -> None:
    service = app_factory(EXECPLANNER_CLOUD="none")
    answer = http.post(
        service.url("/direct"), json=_example("oligia-webtop.json", ssh_public_key="rm -rf /"), headers=JSON
    )
    assert answer.status_code == 400


def test_robot_mode_against_sites_of_its_own_survives_sigkill(
    service_factory: Any,
    http: requests.Session,
    wait_for: Any,
    simcloud_fresh: SimFederation,
    tmp_path: Path,
) -> None:
    """`--cloud egi` on a federation outside the service: SIGKILLed while AVAILABLE, the service restarts,
    reconciles, and a cancel still deletes everything; an orphan it never knew is deleted too."""
    catalogue = rebase(Catalogue.load(default_catalogue_path()), CANONICAL_SIM_URL, simcloud_fresh.base_url)
    path = tmp_path / "catalogue.yaml"
    catalogue.save(path)
    env = {
        "EXECPLANNER_CLOUD": "egi",
        "EXECPLANNER_CATALOGUE": str(path),
        "EXECPLANNER_ROBOT_TOKEN": simcloud_fresh.demo_token,
        "EXECPLANNER_CLAIM_SECONDS": "2",
        **FAST,
    }
    data = tmp_path / "data"
    first = service_factory(data_dir=data, **env)
    url = _direct(http, first, _example("oligia-webtop.json"))
    session = _until(wait_for, http, url, LIVE)
    site = session["placement"]["site"]
    assert len(simcloud_fresh.state(site).servers) == 1
    first.stop(signal.SIGKILL)

    second = service_factory(data_dir=data, **env)
    url = url.replace(first.base_url, second.base_url)
    assert _session(http, url)["phase"] in LIVE
    assert _cancel(http, url)["phase"] == "CANCELLED"
    wait_for(lambda: "cleanup: deleted server" in _messages(_session(http, url)), timeout=30)
    state = simcloud_fresh.state(site)
    assert state.servers == [] and state.floating_ips == []


@pytest.fixture(scope="module")
def webtop(module_service_factory: Any) -> tuple[str, dict[str, Any]]:
    """One Oligia webtop with an SSH key launched on the simulator and live: its URL and the session (JSON)."""
    import yaml
    from support.waiting import wait_for

    service = module_service_factory(EXECPLANNER_CLOUD="sim", **FAST)
    document = yaml.safe_load((EXAMPLES / "oligia-webtop.yaml").read_text())
    document.pop("schedule", None)
    document["ssh_public_key"] = KEY
    with requests.Session() as http:
        answer = http.post(service.url("/direct"), json=document, headers=JSON, allow_redirects=False)
        assert answer.status_code == 303, answer.text
        url = answer.headers["location"]
        return url, _until(wait_for, http, url, LIVE)


@pytest.mark.parametrize("accept", ["application/json", "application/yaml", "application/xml"])
def test_access_details_in_every_format_of_the_2026_dialect(
    webtop: tuple[str, dict[str, Any]], http: requests.Session, accept: str
) -> None:
    url, session = webtop
    assert session["phase"] in ("AVAILABLE", "RUNNING")  # the 2026 names
    address = session["executable"]["network"]["ports"][0]["external"]["addresses"][0]
    text = http.get(url, headers={"Accept": accept}).text
    assert address in text and "ssh ubuntu@127." in text


def test_an_accepted_session_launches_at_once_not_at_the_next_driver_pass(
    service_factory: Any, http: requests.Session, wait_for: Any
) -> None:
    """The accept wakes the driver: with passes a minute apart, the session is AVAILABLE within seconds."""
    service = service_factory(
        EXECPLANNER_CLOUD="sim", EXECPLANNER_SCHEDULER_INTERVAL="60", EXECPLANNER_READY_TIMEOUT="20"
    )
    wait_for(lambda: http.get(service.url("/healthz")).status_code == 200, timeout=30)
    url = _direct(http, service, _example("jupyter-notebook.json"))
    session = _until(wait_for, http, url, LIVE, timeout=30)
    assert session["phase"] in LIVE
    assert _cancel(http, url)["phase"] == "CANCELLED"

"""The service's catalogue: served in three formats, reloaded on SIGHUP or by the admin endpoint without
dropping requests, a bad file refused with the old catalogue kept."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

import requests
import yaml
from lxml import etree

from execplanner.catalogue import Catalogue

REQUEST = (Path(__file__).resolve().parents[2] / "examples" / "requests" / "jupyter-notebook.json").read_bytes()


def writable_catalogue(tmp_path: Path, roomy: Path) -> Path:
    path = tmp_path / "catalogue.yaml"
    path.write_bytes(roomy.read_bytes())
    return path


def drop_site(path: Path, name: str) -> None:
    catalogue = Catalogue.load(path)
    catalogue.sites = [s for s in catalogue.sites if s.name != name]
    catalogue.save(path)


def site_names(server) -> set[str]:
    return {s["name"] for s in requests.get(server.url("/catalogue"), timeout=10).json()["sites"]}


def test_catalogue_in_three_formats(http, service):
    as_json = http.get(service.url("/catalogue")).json()
    assert {"IFCA-LCG2", "CESGA-CLOUD"} <= {s["name"] for s in as_json["sites"]}
    as_yaml = yaml.safe_load(http.get(service.url("/catalogue"), headers={"Accept": "application/yaml"}).content)
    assert as_yaml["schema_version"] == as_json["schema_version"]
    root = etree.fromstring(http.get(service.url("/catalogue"), headers={"Accept": "application/xml"}).content)
    assert root.tag == "catalogue" and len(root.find("sites").findall("site")) == len(as_json["sites"])


def test_admin_reload_and_sighup(service_factory, tmp_path, roomy_catalogue, wait_for):
    path = writable_catalogue(tmp_path, roomy_catalogue)
    server = service_factory(EXECPLANNER_CATALOGUE=str(path))
    assert "IFCA-LCG2" in site_names(server)

    drop_site(path, "IFCA-LCG2")
    answer = requests.post(server.url("/admin/catalogue/reload"), timeout=10)
    assert answer.status_code == 200 and answer.json()["reloaded"] is True
    assert "IFCA-LCG2" not in site_names(server)

    drop_site(path, "IN2P3-IRES")
    server.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "IN2P3-IRES" not in site_names(server), timeout=10)


def test_reload_keeps_serving_requests(service_factory, tmp_path, roomy_catalogue):
    path = writable_catalogue(tmp_path, roomy_catalogue)
    server = service_factory(EXECPLANNER_CATALOGUE=str(path))
    statuses: list[int] = []
    stop = threading.Event()

    def client() -> None:
        with requests.Session() as http:
            while not stop.is_set():
                answer = http.post(
                    server.url("/offersets"),
                    data=REQUEST,
                    allow_redirects=False,
                    headers={"Content-Type": "application/json"},
                    timeout=30,
                )
                statuses.append(answer.status_code)

    clients = [threading.Thread(target=client) for _ in range(4)]
    for thread in clients:
        thread.start()
    for _ in range(5):
        assert requests.post(server.url("/admin/catalogue/reload"), timeout=30).status_code == 200
        server.process.send_signal(signal.SIGHUP)
    stop.set()
    for thread in clients:
        thread.join()
    assert statuses and set(statuses) == {303}


def test_bad_reload_is_refused_and_old_catalogue_kept(app_factory, tmp_path, roomy_catalogue):
    path = writable_catalogue(tmp_path, roomy_catalogue)
    server = app_factory(EXECPLANNER_CATALOGUE=str(path))
    before = site_names(server)
    document = yaml.safe_load(path.read_text())
    document["sites"][0]["vos"][0]["flavors"][0]["vcpus"] = "many"
    path.write_text(yaml.safe_dump(document))
    answer = requests.post(server.url("/admin/catalogue/reload"), timeout=10)
    assert answer.status_code == 422
    assert "sites[0].vos[0].flavors[0].vcpus" in answer.json()["messages"][0]["message"]
    assert site_names(server) == before


def test_admin_token_when_configured(app_factory):
    server = app_factory(EXECPLANNER_ADMIN_TOKEN="s3cret-admin-token")
    assert requests.post(server.url("/admin/catalogue/reload"), timeout=10).status_code == 403
    wrong = {"Authorization": "Bearer nope"}
    assert requests.post(server.url("/admin/catalogue/reload"), headers=wrong, timeout=10).status_code == 403
    right = {"Authorization": "Bearer s3cret-admin-token"}
    assert requests.post(server.url("/admin/catalogue/reload"), headers=right, timeout=10).status_code == 200


def test_serve_refuses_a_bad_catalogue_with_the_reason(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: '1.0'\nsource: x\nsites: [{name: A}]\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "execplanner.cli",
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path),
            "--catalogue",
            str(bad),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "sites[0]" in result.stderr and "endpoint" in result.stderr

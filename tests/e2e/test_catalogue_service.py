"""The service's catalogue: served in three formats, reloaded on SIGHUP or by the admin endpoint without
dropping requests, a bad file refused with the old catalogue kept; SIGTERM then stops the server with status 0."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import pytest
import requests
import yaml
from lxml import etree

from execplanner.catalogue import Catalogue
from execplanner.errors import CatalogueError

# libyaml where PyYAML has it, as the service itself reads catalogues: the same documents, read in a fifth of the
# time (the pure-Python reader took a second over the bundled catalogue)
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

REQUEST = (Path(__file__).resolve().parents[2] / "examples" / "requests" / "jupyter-notebook.json").read_bytes()


def writable_catalogue(tmp_path: Path, roomy: Path) -> Path:
    """A copy of the roomy catalogue, in its format (JSON: each start and reload reads it in 0.02 s, where the same
    document read as YAML took ~0.2 s)."""
    path = tmp_path / f"catalogue{roomy.suffix}"
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
    as_yaml = yaml.load(  # noqa: S506 — a safe loader, libyaml's
        http.get(service.url("/catalogue"), headers={"Accept": "application/yaml"}).content, Loader=YAML_LOADER
    )
    assert as_yaml["schema_version"] == as_json["schema_version"]
    root = etree.fromstring(http.get(service.url("/catalogue"), headers={"Accept": "application/xml"}).content)
    assert root.tag == "catalogue" and len(root.find("sites").findall("site")) == len(as_json["sites"])


@pytest.fixture(scope="module")
def reloadable(module_service_factory, tmp_path_factory, roomy_catalogue):
    """One real server for the module's signal tests, on a catalogue file of its own; each test leaves the file as
    it found it (the roomy catalogue), reloaded. Once they are done, SIGTERM stops it cleanly: exit status 0 (the
    suite's check of a graceful stop, formerly test_offersets.py::test_sigterm_shuts_down_cleanly with a server of
    its own)."""
    path = writable_catalogue(tmp_path_factory.mktemp("reloadable"), roomy_catalogue)
    server = module_service_factory(EXECPLANNER_CATALOGUE=str(path))
    yield server, path
    assert server.stop(signal.SIGTERM) == 0


def test_admin_reload_and_sighup(reloadable, roomy_catalogue, wait_for):
    server, path = reloadable
    assert "IFCA-LCG2" in site_names(server)

    drop_site(path, "IFCA-LCG2")
    answer = requests.post(server.url("/admin/catalogue/reload"), timeout=10)
    assert answer.status_code == 200 and answer.json()["reloaded"] is True
    assert "IFCA-LCG2" not in site_names(server)

    drop_site(path, "IN2P3-IRES")
    server.process.send_signal(signal.SIGHUP)
    wait_for(lambda: "IN2P3-IRES" not in site_names(server), timeout=10)

    path.write_bytes(roomy_catalogue.read_bytes())  # as found, for the module's next test
    assert requests.post(server.url("/admin/catalogue/reload"), timeout=10).status_code == 200
    assert {"IFCA-LCG2", "IN2P3-IRES"} <= site_names(server)


def test_reload_keeps_serving_requests(reloadable):
    server, _ = reloadable
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
    document = json.loads(path.read_text())
    document["sites"][0]["vos"][0]["flavors"][0]["vcpus"] = "many"
    path.write_text(json.dumps(document))
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


def test_serve_refuses_a_bad_catalogue_with_the_reason(app_factory, tmp_path):
    """The app refuses to start, and its error names the field; `execplanner serve` turns that error into its exit
    code and one line on stderr (tests/e2e/test_operator_errors.py::test_an_unreadable_catalogue_is_one_line, a
    real process), so no process of its own here."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: '1.0'\nsource: x\nsites: [{name: A}]\n")
    with pytest.raises(CatalogueError) as refused:
        app_factory(EXECPLANNER_CATALOGUE=str(bad))
    assert refused.value.exit_code != 0
    assert "sites[0]" in refused.value.message and "endpoint" in refused.value.message

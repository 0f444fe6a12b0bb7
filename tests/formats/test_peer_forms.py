"""Documents peers really send and read (issue 12), against a real server: each read as the peer means it or
refused with a 400 naming the field; answers carry what strict clients need."""

from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from execplanner.lifecycle.transitions import apply
from execplanner.model.phase import Phase
from execplanner.store.database import Store

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "requests"
V1 = "https://www.purl.org/ivoa.net/EB/schema/v1.0/types"
TYPES_2025 = "https://www.purl.org/ivoa.net/EB/schema/types"
INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
INTERVAL_ZERO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/PT0S$")


def notebook_2026() -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / "jupyter-notebook.yaml").read_text())


def notebook_2025() -> dict[str, Any]:
    return json.loads((EXAMPLES / "jupyter-notebook.json").read_text())


def ask(http: requests.Session, service, document: dict[str, Any]) -> requests.Response:
    return http.post(service.url("/offersets"), json=document, allow_redirects=False)


def refused(answer: requests.Response) -> str:
    assert answer.status_code == 400, answer.text
    return answer.json()["messages"][0]["message"]


def offers_of(answer: requests.Response) -> list[dict[str, Any]]:
    assert answer.status_code == 303, answer.text
    document = answer.json()
    assert document["result"] == "YES", document["messages"]
    return document["offers"]


def update(http: requests.Session, url: str, value: str, dialect: str = "2026") -> requests.Response:
    if dialect == "2026":
        body: dict[str, Any] = {"kind": "uri:enum-value-update", "path": "phase", "value": value}
    else:
        body = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": value}}
    return http.post(url, json=body)


# ---------------------------------------------------------------- volumes by name


def with_named_volumes(volume_names: list[str]) -> dict[str, Any]:
    document = notebook_2026()
    document["storage"] = [
        {"kind": f"{V1}/storage/simple-storage-resource-1.0", "meta": {"name": "scratch"}, "size": {"min": 10}}
    ]
    document["data"] = [
        {
            "kind": f"{V1}/data/simple-data-resource-1.0",
            "meta": {"name": "cube"},
            "location": "https://example.org/cube.fits",
        }
    ]
    document["volumes"] = [
        {
            "kind": f"{V1}/volume/simple-volume-mount-1.0",
            "meta": {"name": "work"},
            "path": "/work",
            "mode": "READWRITE",
            "resources": ["scratch"],
        },
        {
            "kind": f"{V1}/volume/simple-volume-mount-1.0",
            "meta": {"name": "input"},
            "path": "/input",
            "mode": "READONLY",
            "resources": ["cube"],
        },
    ]
    document["compute"]["volumes"] = volume_names
    return document


def test_compute_volumes_by_name_are_resolved(http, service):
    offers = offers_of(ask(http, service, with_named_volumes(["work", "input"])))
    compute = offers[0]["compute"]
    assert compute["volumes"] == ["work", "input"]
    assert [v["path"] for v in offers[0]["volumes"]] == ["/work", "/input"]


def test_unknown_volume_name_is_a_400_naming_it(http, service):
    text = refused(ask(http, service, with_named_volumes(["work", "outputs"])))
    assert "compute[0].volumes[1]" in text and "'outputs'" in text


def test_volume_naming_an_unknown_resource_is_a_400_naming_it(http, service):
    document = with_named_volumes(["work"])
    document["volumes"][0]["resources"] = ["nowhere"]
    text = refused(ask(http, service, document))
    assert "volumes[0].resources[0]" in text and "'nowhere'" in text


def test_compute_mount_naming_an_unknown_resource_is_a_400_naming_it(http, service):
    document = notebook_2025()
    document["resources"]["compute"][0]["volumes"] = [{"path": "/work", "resource": "scratch"}]
    text = refused(ask(http, service, document))
    assert "compute[0].volumes[0].resources[0]" in text and "'scratch'" in text


# ---------------------------------------------------------------- the `computer` era


def computer_era(cores: int) -> dict[str, Any]:
    document = notebook_2025()
    del document["resources"]
    document["computer"] = {
        "type": f"{TYPES_2025}/resources/compute/simple-compute-resource-1.0",
        "cores": {"requested": {"min": cores}},
        "memory": {"requested": {"min": 2}},
    }
    return document


def test_computer_block_is_read_as_compute(http, service):
    offers = offers_of(ask(http, service, computer_era(5)))
    for offer in offers:
        assert offer["placement"]["cores"] >= 5
        assert offer["resources"]["compute"][0]["cores"]["requested"]["min"] == 5


def test_compute_and_computer_together_are_refused(http, service):
    document = computer_era(5)
    document["resources"] = notebook_2025()["resources"]
    assert "computer" in refused(ask(http, service, document))


# ---------------------------------------------------------------- strict 2025 clients


def test_2025_answers_carry_state_beside_phase(http, service):
    offer = offers_of(ask(http, service, notebook_2025()))[0]
    assert offer["state"] == offer["phase"] == "OFFERED"
    rejected = update(http, offer["href"], "REJECTED", "2025").json()
    assert rejected["state"] == rejected["phase"] == "REJECTED"


def test_singular_executable_uri_is_answered_with_the_spec_plural(http, service):
    document = notebook_2025()
    document["executable"]["type"] = f"{TYPES_2025}/executable/jupyter-notebook-1.0"
    offer = offers_of(ask(http, service, document))[0]
    assert offer["executable"]["type"] == f"{TYPES_2025}/executables/jupyter-notebook-1.0"


def test_doubled_slash_2026_uri_is_answered_normalised(http, service):
    document = notebook_2026()
    document["executable"]["kind"] = document["executable"]["kind"].replace("v1.0/types", "v1.0//types")
    offer = offers_of(ask(http, service, document))[0]
    assert offer["executable"]["kind"] == f"{V1}/executable/jupyter-notebook-1.0"


@pytest.fixture
def own_service(app_factory, tmp_path):
    return app_factory(data_dir=tmp_path / "own")


def _drive_to_available(service, session_uuid: str) -> None:
    """The launch driver is not part of this suite: move the session on as it would, through the one state machine."""
    store = Store.open(f"sqlite:///{service.data_dir / 'execplanner.sqlite'}")
    try:
        now = datetime.now(UTC)
        with store.transaction() as conn:
            for phase in (Phase.WAITING, Phase.PREPARING, Phase.AVAILABLE):
                apply(conn, session_uuid, phase, "test: as the launch driver would", now)
    finally:
        store.close()


def test_a_409_names_2025_phases_to_a_2025_client(http, own_service):
    offer = offers_of(ask(http, own_service, notebook_2025()))[0]
    assert update(http, offer["href"], "ACCEPTED", "2025").status_code == 200
    from uuid import UUID

    _drive_to_available(own_service, UUID(offer["uuid"]))
    session = http.get(offer["href"]).json()
    assert session["phase"] == session["state"] == "READY"
    conflict = update(http, offer["href"], "ACCEPTED", "2025")
    assert conflict.status_code == 409, conflict.text
    text = conflict.json()["messages"][0]["message"]
    assert "READY" in text and "AVAILABLE" not in text
    conflict_2026 = update(http, offer["href"], "ACCEPTED", "2026")
    assert "AVAILABLE" in conflict_2026.json()["messages"][0]["message"]


# ---------------------------------------------------------------- 2026 fields


def _components(offer: dict[str, Any]) -> list[dict[str, Any]]:
    found = [offer["executable"], offer["compute"], *offer.get("storage", []), *offer.get("data", [])]
    return found + [v for v in offer.get("volumes", []) if isinstance(v, dict)]


def test_every_2026_component_has_meta_url_created_phase_and_schedule(http, service):
    offers = offers_of(ask(http, service, with_named_volumes(["work", "input"])))
    for offer in offers:
        components = _components(offer)
        assert len(components) == 6
        for component in components:
            assert component["meta"]["url"].startswith(offer["meta"]["url"] + "#"), component
            assert INSTANT.match(component["meta"]["created"])
            assert component["phase"] == "OFFERED"
            assert component["schedule"] == {k: offer["schedule"][k] for k in ("preparing", "available", "releasing")}
        urls = [c["meta"]["url"] for c in components]
        assert len(set(urls)) == len(urls)


def test_2026_schedule_starts_bare_except_available(http, service):
    offer = offers_of(ask(http, service, notebook_2026()))[0]
    schedule = offer["schedule"]
    assert INSTANT.match(schedule["preparing"]["start"])
    assert INSTANT.match(schedule["releasing"]["start"])
    assert INTERVAL_ZERO.match(schedule["available"]["start"])


def test_2026_offer_set_without_a_name_gets_one(http, service):
    document = notebook_2026()
    del document["meta"]
    created = ask(http, service, document)
    name = created.json()["meta"]["name"]
    assert name
    assert http.get(created.headers["Location"]).json()["meta"]["name"] == name


def test_2026_keeps_expires_after_accept_and_reject(http, service):
    offers = offers_of(ask(http, service, notebook_2026()))
    assert len(offers) >= 2
    accepted = update(http, offers[0]["meta"]["url"], "ACCEPTED").json()
    assert accepted["phase"] == "ACCEPTED" and accepted["expires"] == offers[0]["expires"]
    rejected = http.get(offers[1]["meta"]["url"]).json()
    assert rejected["phase"] == "REJECTED" and rejected["expires"] == offers[1]["expires"]
    update(http, offers[0]["meta"]["url"], "CANCELLED")


# ---------------------------------------------------------------- impossible requests


def test_notebook_without_location_is_refused_naming_the_field(http, service):
    for document in (notebook_2025(), notebook_2026()):
        del document["executable"]["location"]
        assert "executable.location" in refused(ask(http, service, document))


def test_binder_without_repository_is_refused_naming_the_field(http, service):
    document = copy.deepcopy(notebook_2026())
    document["executable"] = {"kind": f"{V1}/executable/binder-repository-1.0", "path": "example.ipynb"}
    assert "executable.repository" in refused(ask(http, service, document))
    direct = http.post(service.url("/direct"), json=document, allow_redirects=False)
    assert "executable.repository" in refused(direct)


# ---------------------------------------------------------------- what these answers look like, against our schemas


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_answers_to_peer_forms_validate(http, service, fmt):
    from formats.test_schemas import ACCEPT, assert_valid_body

    from execplanner.formats import xmltree

    for document in (with_named_volumes(["work", "input"]), computer_era(2)):
        if fmt == "xml":
            body, content_type = xmltree.render(document, root="offers-request"), "application/xml"
        else:
            body, content_type = json.dumps(document).encode(), "application/json"
        headers = {"Content-Type": content_type, "Accept": ACCEPT[fmt]}
        created = http.post(service.url("/offersets"), data=body, headers=headers, allow_redirects=False)
        assert created.status_code == 303, created.text
        assert_valid_body(created, fmt, "offerset-response.schema.json", "offers-response")
        offers = http.get(created.headers["Location"]).json()["offers"]
        url = offers[0].get("href") or offers[0]["meta"]["url"]
        dialect = "2025" if "href" in offers[0] else "2026"
        accepted = update(http, url, "ACCEPTED", dialect)
        assert accepted.status_code == 200
        for sibling in offers[1:]:
            answer = http.get(sibling.get("href") or sibling["meta"]["url"], headers={"Accept": ACCEPT[fmt]})
            assert_valid_body(answer, fmt, "session.schema.json", "execution")
        answer = http.get(url, headers={"Accept": ACCEPT[fmt]})
        assert_valid_body(answer, fmt, "session.schema.json", "execution")
        update(http, url, "CANCELLED", dialect)

"""Asking for GPUs through the protocol (`gpus`, an execplanner extension on a compute resource), in each
dialect and format: only GPU flavors are offered, the session says how many GPUs it got, and too many is a NO
that lists what exists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "requests"
JSON = "application/json"


def notebook_2025(gpus: int) -> bytes:
    document = json.loads((EXAMPLES / "jupyter-notebook.json").read_text())
    compute = document["resources"]["compute"][0]
    compute.update(cores={"requested": {"min": 2}}, memory={"requested": {"min": 4}})
    compute["gpus"] = {"requested": {"min": gpus}}
    return json.dumps(document).encode()


def notebook_2026(gpus: int) -> bytes:
    document = yaml.safe_load((EXAMPLES / "jupyter-notebook.yaml").read_text())
    document["compute"].update(cores={"min": 2}, memory={"min": 4}, gpus={"min": gpus})
    return yaml.safe_dump(document).encode()


def notebook_xml(gpus: int) -> bytes:
    text = (EXAMPLES / "jupyter-notebook.xml").read_text()
    text = text.replace("<max>4</max>", "", 1)  # no upper bound on cores: GPU flavors are big
    text = text.replace(
        "<memory><requested><min>4</min><max>8</max></requested></memory>",
        f"<memory><requested><min>4</min></requested></memory><gpus><requested><min>{gpus}</min></requested></gpus>",
    )
    assert "<gpus>" in text
    return text.encode()


FORMS = {
    "2025-json": (notebook_2025, "application/json"),
    "2026-yaml": (notebook_2026, "application/yaml"),
    "2025-xml": (notebook_xml, "application/xml"),
}


def ask(http, service, body: bytes, content_type: str) -> dict:
    created = http.post(
        service.url("/offersets"), data=body, headers={"Content-Type": content_type}, allow_redirects=False
    )
    assert created.status_code == 303, created.text
    return http.get(created.headers["Location"], headers={"Accept": JSON}).json()


@pytest.mark.parametrize("form", FORMS)
def test_a_gpu_request_is_offered_only_gpu_flavors(http, service, form):
    make, content_type = FORMS[form]
    found = ask(http, service, make(1), content_type)
    assert found["result"] == "YES", found["messages"]
    for offer in found["offers"]:
        assert offer["placement"]["gpus"] >= 1, offer["placement"]
        compute = offer["resources"]["compute"][0] if "resources" in offer else offer["compute"]
        gpus = compute["gpus"]
        offered = gpus.get("offered", gpus)
        assert offered["min"] == offer["placement"]["gpus"]


def test_the_same_request_without_gpus_gets_no_gpu_flavor(http, service):
    document = json.loads(notebook_2025(1))
    del document["resources"]["compute"][0]["gpus"]
    found = ask(http, service, json.dumps(document).encode(), JSON)
    assert found["result"] == "YES"
    assert all(not o["placement"].get("gpus") for o in found["offers"])


def test_more_gpus_than_any_flavor_has_is_a_no_listing_what_exists(http, service):
    found = ask(http, service, notebook_2025(16), JSON)
    assert found["result"] == "NO"
    text = " ".join(m["message"] for m in found["messages"])
    assert "16 GPU(s)" in text and "Tesla V100" in text

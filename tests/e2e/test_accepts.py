"""The 2022 ExecutionPlanner note endpoint, `/accepts`, on a real server."""

from __future__ import annotations

import json

import yaml


def test_get_accepts_yes_with_both_spellings(http, service):
    answer = http.get(
        service.url("/accepts"),
        params={"tasktype": "uri://jupyter-notebook", "resources.mincores": "2", "resources.minmemory": "4"},
    )
    assert answer.status_code == 200
    document = answer.json()
    assert document["reponseword"] == "YES" and document["responseword"] == "YES"
    assert document["serviceinfo"]["endpoint"] == service.url("/offersets")
    assert document["resources"]["mincores"] == 2
    assert document["resources"]["cores"] >= 2
    assert document["interfaces"]


def test_get_accepts_unknown_type_is_no_with_reasons(http, service):
    document = http.get(service.url("/accepts"), params={"tasktype": "uri://quantum-annealer"}).json()
    assert document["reponseword"] == "NO"
    reasons = document["reponseinfo"]["reasons"]
    assert reasons[0]["httpcode"] == 400 and "quantum-annealer" in reasons[0]["text"]


def test_get_accepts_needs_a_tasktype(http, service):
    answer = http.get(service.url("/accepts"))
    assert answer.status_code == 400
    assert "tasktype" in answer.json()["messages"][0]["message"]


def test_post_accepts_multipart_with_json_and_yaml_parts(http, service):
    compose = yaml.safe_dump(
        {"services": {"desktop": {"image": "ghcr.io/ivoa/oligia-webtop:ubuntu-2022.01.13", "ports": ["3000:3000"]}}}
    )
    answer = http.post(
        service.url("/accepts"),
        files={
            "tasktype": (None, "uri://docker-compose"),
            "taskinfo.composefile": ("compose.yaml", compose, "application/yaml"),
            "taskinfo.notes": ("notes.json", json.dumps({"purpose": "demo"}), "application/json"),
        },
        headers={"Accept": "application/yaml"},
    )
    assert answer.status_code == 200, answer.text
    document = yaml.safe_load(answer.content)
    assert document["responseword"] == "YES"


def test_post_accepts_bad_part_is_400(http, service):
    answer = http.post(
        service.url("/accepts"),
        files={
            "tasktype": (None, "uri://jupyter-notebook"),
            "taskinfo.notebook": ("nb.json", "{not: [json", "application/json"),
        },
    )
    assert answer.status_code == 400
    assert "taskinfo.notebook" in answer.json()["messages"][0]["message"]


def test_post_accepts_wrong_content_type_is_415(http, service):
    # JSON and YAML bodies are note task documents (tests/e2e/test_note_examples.py); plain text is nothing
    answer = http.post(
        service.url("/accepts"), data="tasktype=uri://jupyter-notebook", headers={"Content-Type": "text/plain"}
    )
    assert answer.status_code == 415


def test_accepts_answer_in_xml(http, service):
    from lxml import etree

    answer = http.get(
        service.url("/accepts"), params={"tasktype": "uri://docker-container"}, headers={"Accept": "application/xml"}
    )
    root = etree.fromstring(answer.content)
    assert root.tag == "execution-planner-response"
    assert root.findtext("reponseword") == "YES"

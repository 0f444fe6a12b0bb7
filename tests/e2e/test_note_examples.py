"""The 2022 ExecutionPlanner note as printed, against a real server.

Every example document in `../shared/spec/execution-planner-note-2022/` is posted to `/accepts` as it is and
gets the answer the note describes; the note's bare task types, quantities with units and compose
interpolation are read; `servicetype` names what the client gets; `interfaces[]` has no repeats.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

NOTE = Path(__file__).resolve().parents[2] / ".." / "shared" / "spec" / "execution-planner-note-2022"
EXAMPLES = sorted([*NOTE.glob("examples/*/*.json"), *NOTE.glob("data/*.json")]) if NOTE.is_dir() else []
needs_note = pytest.mark.skipif(not NOTE.is_dir(), reason=f"the note's examples are not here ({NOTE} is absent)")

JUPYTER_REST = "https://purl.org/esap.escape.eu/service-type/jupyter-rest"
# What the note describes for each example: a task or a lease for a notebook we can run is a YES; a *template*
# whose data resources are not located yet is a NO naming them; the generic `urn:example-task` is no task type
# a service runs, so NO naming it.
EXPECTED = {
    "binder-notebook-001-01-simple-task.json": ("YES", JUPYTER_REST),
    "binder-notebook-002-01-complex-task-template.json": ("NO", "data-resources[0]"),
    "binder-notebook-002-02-complex-task-located.json": ("YES", JUPYTER_REST),
    "jupyter-notebook-001-01-task.json": ("YES", JUPYTER_REST),
    "jupyter-notebook-001-02-request.json": ("YES", JUPYTER_REST),
    "jupyter-notebook-001-03-provisional-lease.json": ("YES", JUPYTER_REST),
    "jupyter-notebook-001-04-offered-lease.json": ("YES", JUPYTER_REST),
    "jupyter-notebook-001-05-accepted-lease.json": ("YES", JUPYTER_REST),
    "executable-task-001.json": ("NO", "urn:example-task"),
}


@needs_note
def test_every_example_has_an_expected_answer():
    assert EXAMPLES, f"no examples under {NOTE}"
    assert {p.name for p in EXAMPLES} == set(EXPECTED)


@needs_note
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("content_type", ["application/json", "application/yaml"])
def test_note_examples_as_printed_get_the_answer_the_note_describes(http, service, path, content_type):
    body = path.read_bytes() if content_type == "application/json" else yaml.safe_dump(json.loads(path.read_text()))
    answer = http.post(service.url("/accepts"), data=body, headers={"Content-Type": content_type})
    assert answer.status_code == 200, answer.text
    document = answer.json()
    word, named = EXPECTED[path.name]
    assert document["reponseword"] == document["responseword"] == word, document
    if word == "YES":
        assert document["servicetype"] == named
        assert document["interfaces"]
    else:
        assert any(named in reason["text"] for reason in document["reponseinfo"]["reasons"]), document


# ---------------------------------------------------------------- the note's query forms as printed


@pytest.mark.parametrize(
    "tasktype,servicetype",
    [
        ("jupyter-notebook", JUPYTER_REST),
        ("esap-notebook", JUPYTER_REST),
        ("binder-notebook", JUPYTER_REST),
        ("docker-container", "https://purl.org/execplanner/service-type/docker-container"),
        ("docker-compose", "https://purl.org/execplanner/service-type/docker-compose"),
    ],
)
def test_bare_task_types_are_read(http, service, tasktype, servicetype):
    document = http.get(service.url("/accepts"), params={"tasktype": tasktype}).json()
    assert document["reponseword"] == "YES", document
    assert document["servicetype"] == servicetype
    assert all(i["servicetype"] == servicetype for i in document["interfaces"])


def test_interfaces_do_not_repeat(http, service):
    document = http.get(service.url("/accepts"), params={"tasktype": "jupyter-notebook"}).json()
    places = [(i["serviceinfo"]["site"], i["serviceinfo"]["flavor"]) for i in document["interfaces"]]
    assert places and len(places) == len(set(places))
    assert len({json.dumps(i, sort_keys=True) for i in document["interfaces"]}) == len(document["interfaces"])


@pytest.mark.parametrize(
    "given,echoed",
    [
        ({"minmemory": "8G"}, {"minmemory": 8}),
        ({"minmemory": "8Gi", "maxmemory": "16GiB"}, {"minmemory": 8, "maxmemory": 16}),
        ({"minmemory": "1536M"}, {"minmemory": 2}),
        ({"minduration": "5s"}, {"minduration": "PT5S"}),
        ({"minduration": "5m", "maxduration": "2h"}, {"minduration": "PT5M", "maxduration": "PT2H"}),
        ({"minduration": "3600"}, {"minduration": "PT1H"}),
        ({"maxstartup": "PT10M"}, {"maxstartup": "PT10M"}),
    ],
)
def test_units_are_read(http, service, given, echoed):
    params = {"tasktype": "jupyter-notebook", **{f"resources.{k}": v for k, v in given.items()}}
    document = http.get(service.url("/accepts"), params=params).json()
    assert document["reponseword"] == "YES", document
    assert echoed.items() <= document["resources"].items()
    if "minmemory" in echoed:
        assert document["resources"]["memory"] >= echoed["minmemory"]


def test_units_are_answered_in_xml_that_validates(http, service):
    from formats.test_schemas import assert_valid_body

    params = {"tasktype": "docker-container", "resources.minmemory": "8G", "resources.minduration": "5m"}
    answer = http.get(service.url("/accepts"), params=params, headers={"Accept": "application/xml"})
    root = assert_valid_body(answer, "xml", "", "execution-planner-response")
    assert root.find("resources").findtext("minmemory") == "8"


@pytest.mark.parametrize("key,value", [("minmemory", "lots"), ("minduration", "P1M"), ("mincores", "2G")])
def test_unreadable_units_are_a_400_naming_the_parameter(http, service, key, value):
    answer = http.get(service.url("/accepts"), params={"tasktype": "jupyter-notebook", f"resources.{key}": value})
    assert answer.status_code == 400, answer.text
    assert f"resources.{key}" in answer.json()["messages"][0]["message"]


NOTE_COMPOSE = """
services:
  desktop:
    image: "ghcr.io/ivoa/oligia-webtop:${buildtag:-latest}"
    ports:
      - "${port-3000}:3000"
"""


def test_compose_example_with_interpolation_is_read(http, service):
    answer = http.post(
        service.url("/accepts"),
        files={"tasktype": (None, "docker-compose"), "taskinfo.composefile": ("compose.yaml", NOTE_COMPOSE)},
    )
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert document["reponseword"] == "YES", document
    assert document["servicetype"] == "https://purl.org/execplanner/service-type/docker-compose"


def test_compose_with_a_required_variable_unset_is_a_400_naming_it(http, service):
    compose = "services:\n  web:\n    image: nginx:${tag:?set the nginx tag}\n"
    answer = http.post(
        service.url("/accepts"),
        files={"tasktype": (None, "docker-compose"), "taskinfo.composefile": ("compose.yaml", compose)},
    )
    assert answer.status_code == 400, answer.text
    assert "tag" in answer.json()["messages"][0]["message"]


@pytest.mark.parametrize(
    "document,named",
    [
        ({"type": "https://purl.org/esap.escape.eu/task-type/jupyter-notebook", "task": {}}, "task.notebook"),
        (
            {"type": "https://purl.org/esap.escape.eu/task-type/binder-notebook", "task": {"path": "a.ipynb"}},
            "task.repository",
        ),
    ],
)
def test_impossible_note_tasks_are_a_no_naming_the_field(http, service, document, named):
    answer = http.post(service.url("/accepts"), json=document)
    assert answer.status_code == 200, answer.text
    reply = answer.json()
    assert reply["reponseword"] == "NO"
    assert any(named in reason["text"] for reason in reply["reponseinfo"]["reasons"]), reply

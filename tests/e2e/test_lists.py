"""`GET /sessions` and `GET /offersets` over real HTTP: whose rows a caller sees, the filters, the pages,
the three formats, and a 400 naming the parameter for every bad value."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import xmlschema
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "requests" / "jupyter-notebook.json"
VO = "vo.access.egi.eu"
OPERATOR = f"urn:mace:egi.eu:group:{VO}:role=vm_operator#aai.egi.eu"
JSON = {"Content-Type": "application/json", "Accept": "application/json"}
ADMIN = "operator-admin-token-0123456789"


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def ask(http, server, token: str | None = None) -> dict:
    created = http.post(
        server.url("/offersets"), data=EXAMPLE.read_bytes(), headers={**JSON, **bearer(token)}, allow_redirects=False
    )
    assert created.status_code == 303, created.text
    answer = http.get(created.headers["Location"], headers={**JSON, **bearer(token)})
    assert answer.status_code == 200, answer.text
    return answer.json()


def listed(http, server, path: str, token: str | None = None, **params) -> dict:
    answer = http.get(server.url(path), params=params, headers={**JSON, **bearer(token)})
    assert answer.status_code == 200, answer.text
    return answer.json()


def accept(http, session: dict, token: str | None = None) -> None:
    body = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": "ACCEPTED"}}
    answer = http.post(session["href"], json=body, headers={**JSON, **bearer(token)})
    assert answer.status_code == 200, answer.text


def uuids(document: dict, key: str) -> list[str]:
    return [item["uuid"] for item in document[key]]


def test_each_user_sees_their_own_and_the_operator_sees_everyone(http, app_factory, idp, database_url):
    idp.entitlements.update({"alice": [OPERATOR], "bob": [OPERATOR]})
    alice, bob = idp.mint("alice"), idp.mint("bob")
    server = app_factory(database=database_url, EXECPLANNER_ISSUERS=idp.issuer, EXECPLANNER_ADMIN_TOKEN=ADMIN)
    mine = [ask(http, server, alice)["uuid"] for _ in range(2)]
    theirs = ask(http, server, bob)["uuid"]
    anonymous = ask(http, server)["uuid"]

    assert uuids(listed(http, server, "/offersets", alice), "offersets") == mine[::-1]  # newest first
    assert uuids(listed(http, server, "/offersets", bob), "offersets") == [theirs]
    assert uuids(listed(http, server, "/offersets"), "offersets") == [anonymous]
    everyone = uuids(listed(http, server, "/offersets", ADMIN), "offersets")
    assert everyone == [anonymous, theirs, *mine[::-1]]

    alices_sessions = listed(http, server, "/sessions", alice)["sessions"]
    assert alices_sessions and {s["uuid"] for s in alices_sessions} == {
        o["uuid"]
        for u in mine
        for o in http.get(server.url(f"/offersets/{u}"), headers={**JSON, **bearer(alice)}).json()["offers"]
    }
    assert not {s["uuid"] for s in alices_sessions} & {
        s["uuid"] for s in listed(http, server, "/sessions", bob)["sessions"]
    }
    forged = http.get(server.url("/sessions"), headers={**JSON, **bearer("not-the-admin-token")})
    assert forged.status_code == 401


def test_filters_pick_by_phase_site_vo_and_time(http, app_factory, database_url):
    server = app_factory(database=database_url)
    before = datetime.now(UTC) - timedelta(seconds=1)
    first = ask(http, server)
    middle = datetime.now(UTC)
    second = ask(http, server)
    chosen = second["offers"][0]
    accept(http, chosen)

    accepted = listed(http, server, "/sessions", phase="ACCEPTED")["sessions"]
    assert uuids({"s": accepted}, "s") == [chosen["uuid"]]
    assert accepted[0]["phase"] == "ACCEPTED"
    both = listed(http, server, "/sessions", phase=["ACCEPTED", "REJECTED"])["sessions"]
    assert {s["phase"] for s in both} == {"ACCEPTED", "REJECTED"}
    assert len(both) == len(second["offers"])

    site = chosen["placement"]["site"]
    on_site = listed(http, server, "/sessions", site=site)["sessions"]
    assert on_site and {s["placement"]["site"] for s in on_site} == {site}
    assert listed(http, server, "/sessions", vo="no.such.vo")["sessions"] == []
    assert listed(http, server, "/sessions", vo=chosen["placement"]["vo"])["sessions"]

    assert uuids(listed(http, server, "/offersets", since=middle.isoformat()), "offersets") == [second["uuid"]]
    assert uuids(listed(http, server, "/offersets", until=middle.isoformat()), "offersets") == [first["uuid"]]
    assert len(listed(http, server, "/offersets", since=before.isoformat())["offersets"]) == 2
    assert uuids(listed(http, server, "/offersets", phase="ACCEPTED"), "offersets") == [second["uuid"]]


def test_pages_walk_every_row_once_newest_first(http, app_factory, database_url):
    server = app_factory(database=database_url)
    made = [ask(http, server)["uuid"] for _ in range(5)]
    seen: list[str] = []
    params: dict[str, str] = {"limit": "2"}
    pages = 0
    while True:
        answer = http.get(server.url("/offersets"), params=params, headers=JSON)
        assert answer.status_code == 200, answer.text
        document = answer.json()
        assert len(document["offersets"]) <= 2
        seen += uuids(document, "offersets")
        pages += 1
        if document["cursor"] is None:
            assert "Link" not in answer.headers
            break
        assert 'rel="next"' in answer.headers["Link"] and document["cursor"] in answer.headers["Link"]
        params = {"limit": "2", "cursor": document["cursor"]}
    assert seen == made[::-1] and pages == 3
    assert len(listed(http, server, "/sessions", limit="500")["sessions"]) > 5
    assert len(listed(http, server, "/sessions")["sessions"]) <= 50


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("phase=NAPPING", "phase"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("limit=%D9%A3", "limit"),  # an Arabic-Indic 3: a digit to str.isdigit() and int(), not to a client
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("since=2026-12-02T00:00:00Z&until=2026-12-01T00:00:00Z", "until"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("cursor=%%%", "cursor"),
        ("site=", "site"),
        ("vo=" + "x" * 200, "vo"),
        ("limit=1&limit=2", "limit"),
        ("colour=blue", "colour"),
    ],
)
@pytest.mark.parametrize("path", ["/sessions", "/offersets"])
def test_a_bad_parameter_is_a_400_that_names_it(http, service, path, query, named):
    answer = http.get(service.url(f"{path}?{query}"), headers=JSON)
    assert answer.status_code == 400, answer.text
    assert answer.json()["messages"][0]["message"].startswith(f"query parameter '{named}'")


def _json_validator(name: str) -> Draft202012Validator:
    resources = []
    for path in (REPO / "schemas").glob("*.schema.json"):
        contents = json.loads(path.read_text())
        resources.append((contents["$id"], Resource.from_contents(contents)))
    schema = json.loads((REPO / "schemas" / name).read_text())
    return Draft202012Validator(schema, registry=Registry().with_resources(resources))


@pytest.mark.parametrize(
    ("path", "key", "item"), [("/sessions", "sessions", "execution"), ("/offersets", "offersets", "offers-response")]
)
def test_lists_in_json_yaml_and_xml_match_their_schemas(http, service, path, key, item):
    ask(http, service)
    ask(http, service)
    as_json = listed(http, service, path, limit="2")
    assert len(as_json[key]) == 2 and as_json["cursor"]
    _json_validator(f"{key}-list.schema.json").validate(as_json)

    as_yaml = http.get(service.url(path), params={"limit": "2"}, headers={"Accept": "application/yaml"})
    assert as_yaml.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.text)[key] == as_json[key]

    as_xml = http.get(service.url(path), params={"limit": "2"}, headers={"Accept": "application/xml"})
    assert as_xml.status_code == 200
    schema = xmlschema.XMLSchema(str(REPO / "schemas" / "execplanner.xsd"))
    schema.validate(as_xml.content)
    tree = schema.to_dict(as_xml.content)
    assert len(tree[item]) == 2 and tree["cursor"] == as_json["cursor"]

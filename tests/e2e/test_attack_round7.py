"""Round 7 of attacking a running service: what the earlier rounds' hostile bodies, headers and loads missed.

Each test is a defect found against a real server (`execplanner serve --cloud sim`) and reproduced here; each
docstring says what was seen. They fail until the product is fixed.
"""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest
import requests

from execplanner.catalogue import Catalogue, default_catalogue_path
from execplanner.cloud.sealing import new_key
from execplanner.simcloud import SimFederation, entitlement
from execplanner.simcloud.default_catalogue import CANONICAL_SIM_URL, rebase

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "requests"
JSON = {"Accept": "application/json", "Content-Type": "application/json"}
VO = "vo.access.egi.eu"
OPERATOR = f"urn:mace:egi.eu:group:{VO}:role=vm_operator#aai.egi.eu"
MEMBER = f"urn:mace:egi.eu:group:{VO}:role=member#aai.egi.eu"
LIVE = ("PREPARING", "READY", "AVAILABLE", "RUNNING")


def _notebook_request() -> str:
    return (EXAMPLES / "jupyter-notebook.json").read_text()


def _offerset(http: requests.Session, service: Any, headers: dict[str, str] = JSON) -> dict[str, Any]:
    answer = http.post(service.url("/offersets"), data=_notebook_request(), headers=headers, allow_redirects=False)
    assert answer.status_code == 303, answer.text
    return answer.json()


# --- 1. list filters and cursors at the edges of the calendar --------------------------------------------------


@pytest.mark.parametrize("path", ["/sessions", "/offersets"])
@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("since", "9999-12-31T23:59:59-01:00"),  # a valid ISO 8601 instant whose UTC time is in year 10000
        ("until", "9999-12-31T23:59:59-01:00"),
        ("since", "0001-01-01T00:00:00+01:00"),  # ... and one whose UTC time is in year 0
        ("until", "0001-01-01T00:00:00+01:00"),
    ],
)
def test_a_list_filter_outside_the_calendar_is_a_400_naming_it_not_a_500(
    app_factory: Any, http: requests.Session, path: str, name: str, value: str
) -> None:
    """`GET /sessions?since=9999-12-31T23:59:59-01:00` (or `until=`, or `0001-01-01T00:00:00+01:00`, on
    `/sessions` and `/offersets`) answered 500 "internal error" with an OverflowError traceback in the log:
    `api/lists.py::_instant` parses it with `datetime.fromisoformat` and then `astimezone(UTC)` overflows (or,
    for year 1, `store/tables.py`'s UTC conversion of the bound parameter does). docs/dashboard.md: "A bad or
    unknown parameter is a 400 whose message begins `query parameter '<name>'`"."""
    service = app_factory()
    answer = http.get(service.url(path), params={name: value}, headers=JSON)
    assert answer.status_code == 400, answer.text
    assert answer.json()["messages"][0]["message"].startswith(f"query parameter '{name}'")


@pytest.mark.parametrize("path", ["/sessions", "/offersets"])
@pytest.mark.parametrize("created", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_a_forged_cursor_at_the_edge_of_the_calendar_is_a_400_not_a_500(
    app_factory: Any, http: requests.Session, path: str, created: str
) -> None:
    """The list cursor is base64 of `{"c": <created>, "u": <uuid>}`; one whose `c` is
    `9999-12-31T23:59:59-01:00` or `0001-01-01T00:00:00+01:00` passes `lists.decode_cursor` and makes the
    query's parameter conversion (`store/tables.py`, `astimezone(UTC)`) raise OverflowError: a 500. Other forged
    cursors get the documented 400 "query parameter 'cursor': not a cursor this service gave out"."""
    import base64

    service = app_factory()
    raw = json.dumps({"c": created, "u": "01a2540f-2b6b-7cf4-bc58-59269d798fe8"}).encode()
    cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    answer = http.get(service.url(path), params={"cursor": cursor}, headers=JSON)
    assert answer.status_code == 400, answer.text
    assert answer.json()["messages"][0]["message"].startswith("query parameter 'cursor'")


@pytest.mark.postgres
def test_a_forged_cursor_at_the_edge_of_the_calendar_is_a_400_on_postgresql_too(
    app_factory: Any, http: requests.Session, postgres_url_fresh: str
) -> None:
    """The same forged cursors as above against a PostgreSQL-backed server: also a 500."""
    import base64

    service = app_factory(database=postgres_url_fresh)
    for created in ("9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"):
        raw = json.dumps({"c": created, "u": "01a2540f-2b6b-7cf4-bc58-59269d798fe8"}).encode()
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        for path in ("/sessions", "/offersets"):
            answer = http.get(service.url(path), params={"cursor": cursor}, headers=JSON)
            assert answer.status_code == 400, (path, created, answer.text)


# --- 2. /metrics series from methods clients make up ----------------------------------------------------------


def test_methods_a_client_makes_up_do_not_each_add_series_to_metrics(app_factory: Any, http: requests.Session) -> None:
    """Every request with an invented method (`M00001X /healthz HTTP/1.1`, answered 405) adds a new
    `method="M00001X"` label to `execplanner_http_requests_total` and a whole histogram (16 series) to
    `execplanner_http_request_duration_seconds`, kept for the life of the process: 300 such requests grew
    `/metrics` from 63 KB to 527 KB. `api/observe.py::_series` caps its own lookup dictionary at 4096 entries
    but still calls `metrics.REQUESTS.labels(method, ...)` for every new method, and prometheus_client keeps
    every label set. Any client can make a scrape, and the service's memory, grow without bound. Methods the
    service has no route for should share one label value."""
    service = app_factory()
    tag = secrets.token_hex(3).upper()
    invented = [f"X{tag}{i:03d}" for i in range(40)]
    for method in invented:
        assert http.request(method, service.url("/healthz")).status_code in (400, 405, 501)
    scraped = http.get(service.url("/metrics")).text
    labelled = {m for m in re.findall(r'method="([^"]*)"', scraped) if m.startswith(f"X{tag}")}
    assert len(labelled) <= 1, f"{len(labelled)} invented methods have series of their own in /metrics"


# --- 3. the 2022 note's duration bounds -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "shortest", "longest"),
    [
        ({"resources.minduration": "PT2H", "resources.maxduration": "PT1H"}, "PT2H", "PT1H"),
        ({"resources.minduration": "1h", "resources.maxduration": "1s"}, "PT1H", "PT1S"),
        ({"resources.maxduration": "0"}, None, "PT0S"),
    ],
)
def test_the_note_never_says_yes_with_a_duration_outside_the_asked_bounds(
    app_factory: Any, http: requests.Session, query: dict[str, str], shortest: str | None, longest: str
) -> None:
    """`GET /accepts?tasktype=jupyter-notebook&resources.minduration=PT2H&resources.maxduration=PT1H` answered
    `YES` with `resources.duration: PT1H`, shorter than the minimum asked; `resources.maxduration=0` answered YES
    with `duration: PT1H`, longer than the maximum. For cores and memory the same contradictions are a NO with a
    reason (`maxcores=0`: "no flavor ... has ≤ 0 cores"), and `POST /offersets` refuses a duration whose max is
    shorter than its min (400 "max is shorter than min") or PT0S (400 "must be positive"). PROTOCOL.md: "Min/max
    are bounds"; docs/planner.md: the available duration is "the max if one is given, else the min" (a max of 0
    reads as "none given", being a falsy timedelta)."""
    service = app_factory()
    answer = http.get(service.url("/accepts"), params={"tasktype": "jupyter-notebook", **query}, headers=JSON)
    if answer.status_code == 400:
        return  # refusing the contradiction outright is as good as a NO
    assert answer.status_code == 200, answer.text
    document = answer.json()
    if document["responseword"] == "NO":
        assert document["reponseinfo"]["reasons"]
        return
    offered = document["resources"]["duration"]
    from execplanner.formats.iso8601 import parse_duration

    if shortest is not None:
        assert parse_duration(offered) >= parse_duration(shortest), f"YES with {offered}, min was {shortest}"
    assert parse_duration(offered) <= parse_duration(longest), f"YES with {offered}, max was {longest}"


# --- 4. the dashboard's ask form and what every reader can read back ------------------------------------------


def test_a_notebook_address_typed_into_the_dashboard_is_checked_like_an_api_request(
    app_factory: Any, http: requests.Session
) -> None:
    """The dashboard's ask form (`POST /ui/ask`) took `location=https://example.org/a\\x01b\\x0b.ipynb` and stored
    the offer set: `AskForm` checks only the URL's scheme and host, and `dashboard.ask` hands the tree to the
    planner without the value checks every API body gets (docs/formats.md: "no control characters ... A value
    outside them is a 400 naming the field, so whatever is accepted can be read back in JSON, YAML and XML").
    Afterwards that offer set, its sessions, and every `GET /sessions` / `GET /offersets` page that includes them
    answer XML clients with a 500 — for anonymous callers that is the one shared list, so one form post breaks
    listing in XML for everybody."""
    service = app_factory()
    asked = http.post(
        service.url("/ui/ask"),
        data={"kind": "notebook", "location": "https://example.org/a\x01b\x0b.ipynb", "cores": "2", "memory": "4"},
        headers={"Origin": service.base_url},
        allow_redirects=False,
    )
    if asked.status_code == 400:  # refused, with a sentence under the field: what the API would have done
        return
    assert asked.status_code == 303, asked.text
    uuid = asked.headers["Location"].rsplit("/", 1)[-1]
    xml = {"Accept": "application/xml"}
    assert http.get(service.url(f"/offersets/{uuid}"), headers=xml).status_code == 200
    assert http.get(service.url("/offersets"), headers=xml).status_code == 200
    assert http.get(service.url("/sessions"), headers=xml).status_code == 200


# --- 5. accepting from the dashboard ------------------------------------------------------------------------


def test_an_offer_accepted_on_the_dashboard_launches_at_once_like_one_accepted_through_the_api(
    app_factory: Any, http: requests.Session, wait_for: Any
) -> None:
    """With the driver's passes a minute apart (`EXECPLANNER_SCHEDULER_INTERVAL=60`), an offer accepted with
    `POST /sessions/{uuid}` was PREPARING 0.2 s later, but the same offer accepted with the dashboard's Accept
    button (`POST /ui/sessions/{uuid}`, phase=ACCEPTED) was still ACCEPTED 15 s later: `dashboard.move_session`
    calls `booking.sessions.update` only, never `broker._accepted` / `LaunchWiring.accepted`, which wakes the
    driver (and makes the caller's per-user credential; see the next test). The existing test
    `test_an_accepted_session_launches_at_once_not_at_the_next_driver_pass` covers the API path only."""
    service = app_factory(EXECPLANNER_CLOUD="sim", EXECPLANNER_SCHEDULER_INTERVAL="60", EXECPLANNER_READY_TIMEOUT="20")
    offer = _offerset(http, service)["offers"][0]["uuid"]
    accepted = http.post(
        service.url(f"/ui/sessions/{offer}"),
        data={"phase": "ACCEPTED"},
        headers={"Origin": service.base_url},
        allow_redirects=False,
    )
    assert accepted.status_code == 303, accepted.text
    url = service.url(f"/sessions/{offer}")
    try:
        wait_for(lambda: http.get(url, headers=JSON).json()["phase"] != "ACCEPTED", timeout=15)
    finally:
        cancel = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": "CANCELLED"}}
        http.post(url, json=cancel, headers=JSON)


@pytest.mark.parametrize("via", ["api", "dashboard"])  # the API is the control: the same steps launch per-user
def test_an_offer_accepted_on_the_dashboard_with_a_token_launches_with_the_owners_credential(
    app_factory: Any,
    http: requests.Session,
    wait_for: Any,
    simcloud_fresh: SimFederation,
    idp: Any,
    tmp_path: Path,
    via: str,
) -> None:
    """Per-user launch (docs/operator.md: "When a caller accepts an offer ... with a bearer token, and the
    operator configured a credential key, the service uses that token ... to create a Keystone application
    credential") happens for `POST /sessions/{uuid}` (the `api` case passes) but not for the dashboard's Accept
    button with the same token: `dashboard.move_session` never calls `LaunchWiring.accepted`, so no credential is
    made and the driver waits for one that never comes. With no robot credential configured, the
    dashboard-accepted session was still ACCEPTED 30 s later (driver passes every 0.1 s), its only message
    "Accepted; launching on FedCloud is handled by the lifecycle service when it is enabled."; the API-accepted
    one launched as the user within seconds."""
    idp.entitlements["alice"] = [MEMBER, OPERATOR]
    token = idp.mint("alice", lifetime=3600)
    simcloud_fresh.add_token(token, [entitlement(VO)], name="alice")
    key = tmp_path / "credential.key"
    key.write_text(new_key())
    catalogue = tmp_path / "catalogue.yaml"
    rebase(Catalogue.load(default_catalogue_path()), CANONICAL_SIM_URL, simcloud_fresh.base_url).save(catalogue)
    service = app_factory(
        EXECPLANNER_CLOUD="egi",
        EXECPLANNER_CATALOGUE=str(catalogue),
        EXECPLANNER_ISSUERS=idp.issuer,
        EXECPLANNER_CREDENTIAL_KEY_FILE=str(key),
        EXECPLANNER_SCHEDULER_INTERVAL="0.1",
        EXECPLANNER_READY_TIMEOUT="20",
        EXECPLANNER_CLAIM_SECONDS="5",
    )
    alice = {**JSON, "Authorization": f"Bearer {token}"}
    offer = _offerset(http, service, alice)["offers"][0]["uuid"]
    url = service.url(f"/sessions/{offer}")
    if via == "api":
        accept = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": "ACCEPTED"}}
        assert http.post(url, json=accept, headers=alice).status_code == 200
    else:
        accepted = http.post(
            service.url(f"/ui/sessions/{offer}"),
            data={"phase": "ACCEPTED"},
            headers={"Origin": service.base_url, "Authorization": f"Bearer {token}"},
            allow_redirects=False,
        )
        assert accepted.status_code == 303, accepted.text
    seen: list[dict[str, Any]] = []

    def launched_or_failed() -> dict[str, Any] | None:
        seen[:] = [http.get(url, headers=alice).json()]
        return seen[0] if seen[0]["phase"] in (*LIVE, "FAILED") else None

    def state() -> str:
        return f"{seen[0]['phase']}: " + " | ".join(m["message"] for m in seen[0].get("messages", [])) if seen else ""

    try:
        session = wait_for(launched_or_failed, timeout=30, why=state)
        said = " | ".join(m["message"] for m in session.get("messages", []))
        assert session["phase"] != "FAILED", said
        assert session.get("launch", {}).get("mode") == "per-user", said
    finally:
        cancel = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": "CANCELLED"}}
        http.post(url, json=cancel, headers=alice)


# --- 6. Accept negotiation --------------------------------------------------------------------------------------


def test_a_q_parameter_written_in_capitals_is_still_a_weight(app_factory: Any, http: requests.Session) -> None:
    """`Accept: application/json;Q=0, application/xml` (the client refuses JSON and wants XML) was answered in
    JSON: `formats/media.py::format_for_accept` recognises only a lower-case `q=`, so `Q=0` is ignored and JSON
    gets weight 1 as the first entry. RFC 9110 §12.4.2 writes the weight as `"q=" qvalue` in ABNF, whose string
    literals are case-insensitive, and §5.6.6 says parameter names are case-insensitive; docs/formats.md promises
    "q-values honoured"."""
    service = app_factory()
    answer = http.get(service.url("/sessions"), headers={"Accept": "application/json;Q=0, application/xml"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/xml"), answer.headers["Content-Type"]

"""What an operator watches, against real servers: `/metrics` in Prometheus text, one JSON log line per event
with the request id (never a token), `/availability` telling the truth about the database, and `/docs`."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import psycopg
import pytest
from lxml import etree
from prometheus_client.parser import text_string_to_metric_families

from execplanner.catalogue import Catalogue, default_catalogue_path
from execplanner.logs import event_fields, scrub
from execplanner.simcloud import SimFederation
from execplanner.simcloud.default_catalogue import CANONICAL_SIM_URL, rebase

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "requests" / "jupyter-notebook.json"
JSON = {"Content-Type": "application/json", "Accept": "application/json"}
NS = "{http://www.ivoa.net/xml/VOSIAvailability/v1.0}"
FAKE_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzZWNyZXQtc3ViamVjdCJ9.c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw"


def ask_and_accept(http, server, headers: dict[str, str] | None = None) -> dict:
    created = http.post(
        server.url("/offersets"), data=EXAMPLE.read_bytes(), headers={**JSON, **(headers or {})}, allow_redirects=False
    )
    assert created.status_code == 303, created.text
    offerset = http.get(created.headers["Location"], headers={**JSON, **(headers or {})}).json()
    offer = offerset["offers"][0]
    body = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": "ACCEPTED"}}
    accepted = http.post(offer["href"], json=body, headers={**JSON, **(headers or {})})
    assert accepted.status_code == 200, accepted.text
    return offerset


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def value(found: dict, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def test_metrics_count_requests_offers_holds_and_the_scheduler(http, service_factory, wait_for):
    server = service_factory()
    offerset = ask_and_accept(http, server)
    http.get(server.url("/no/such/page"))
    site = offerset["offers"][0]["placement"]["site"]
    vo = offerset["offers"][0]["placement"]["vo"]

    def scraped() -> dict | None:
        answer = http.get(server.url("/metrics"))
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain")
        found = samples(answer.text)
        return found if (value(found, "execplanner_scheduler_last_pass_timestamp_seconds") or 0) > 0 else None

    found = wait_for(scraped)
    assert value(found, "execplanner_http_requests_total", method="POST", route="/offersets", status="303") == 1
    assert value(found, "execplanner_http_requests_total", method="POST", route="/sessions/{uuid}", status="200") == 1
    assert value(found, "execplanner_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert value(found, "execplanner_http_request_duration_seconds_count", method="POST", route="/offersets") == 1
    assert (
        value(found, "execplanner_http_request_duration_seconds_bucket", method="POST", route="/offersets", le="+Inf")
        == 1
    )
    offers = len(offerset["offers"])
    assert value(found, "execplanner_offers_total", event="made") == offers
    assert value(found, "execplanner_offers_total", event="accepted") == 1
    assert value(found, "execplanner_offers_total", event="rejected") == offers - 1
    assert value(found, "execplanner_holds", site=site, vo=vo, resource="instances") == 1
    assert value(found, "execplanner_holds", site=site, vo=vo, resource="cores") >= 1
    assert 0 <= value(found, "execplanner_scheduler_lag_seconds") < 60
    assert 0 <= value(found, "execplanner_scheduler_since_last_pass_seconds") < 60
    assert value(found, "execplanner_offers_overdue_seconds") == 0  # one offer accepted, its siblings rejected


def test_offers_no_scheduler_expires_show_as_overdue(http, app_factory, wait_for):
    """With no scheduler running anywhere, an offer past its expiry stays OFFERED, and every scrape says for how
    long: what `execplanner_scheduler_since_last_pass_seconds` (per process) cannot show for a federation."""
    server = app_factory(EXECPLANNER_SCHEDULER="false", EXECPLANNER_OFFER_EXPIRY_SECONDS="0.3")
    created = http.post(server.url("/offersets"), data=EXAMPLE.read_bytes(), headers=JSON, allow_redirects=False)
    assert created.status_code == 303, created.text

    def overdue_beyond(least: float):
        def scraped() -> float | None:
            seconds = value(samples(http.get(server.url("/metrics")).text), "execplanner_offers_overdue_seconds")
            return seconds if seconds is not None and seconds > least else None

        return scraped

    first = wait_for(overdue_beyond(0))
    assert first < 30
    assert wait_for(overdue_beyond(first)) > first  # it keeps growing: nothing expires the offer
    assert http.get(created.headers["Location"], headers=JSON).json()["offers"][0]["phase"] == "OFFERED"


def _launch_now(http, server) -> str:
    document = json.loads(EXAMPLE.read_text())
    document.pop("schedule", None)  # start now
    answer = http.post(server.url("/direct"), json=document, headers=JSON, allow_redirects=False)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def _phase_in(http, url: str, phases: tuple[str, ...]):
    def reached() -> dict | None:
        session = http.get(url, headers=JSON).json()
        assert session["phase"] in phases or session["phase"] not in ("FAILED", "CANCELLED"), session["messages"]
        return session if session["phase"] in phases else None

    return reached


def _family(found: dict, name: str) -> dict[frozenset, float]:
    return {labels: count for (sample, labels), count in found.items() if sample == name}


def test_metrics_count_launches_and_cloud_calls_by_site_and_outcome(
    http, service_factory, wait_for, simcloud_fresh: SimFederation, tmp_path: Path
):
    """A notebook launched for real on the simulated federation (one 503 on the way: retried) reaches AVAILABLE;
    one whose server boots into ERROR becomes FAILED; /metrics counts both launches and every cloud call."""
    catalogue = tmp_path / "catalogue.yaml"
    rebase(Catalogue.load(default_catalogue_path()), CANONICAL_SIM_URL, simcloud_fresh.base_url).save(catalogue)
    server = service_factory(
        EXECPLANNER_CLOUD="egi",
        EXECPLANNER_CATALOGUE=str(catalogue),
        EXECPLANNER_ROBOT_TOKEN=simcloud_fresh.demo_token,
        EXECPLANNER_SCHEDULER_INTERVAL="0.1",
        EXECPLANNER_READY_TIMEOUT="20",
    )
    simcloud_fresh.faults.inject("*", "compute.servers.create", "error", status=503, times=1)
    available = wait_for(_phase_in(http, _launch_now(http, server), ("READY", "AVAILABLE", "RUNNING")), timeout=60)
    simcloud_fresh.faults.inject("*", "compute.servers.create", "server_error", message="hypervisor on fire")
    failed = wait_for(_phase_in(http, _launch_now(http, server), ("FAILED",)), timeout=60)
    assert "hypervisor on fire" in json.dumps(failed["messages"])
    good, bad = available["placement"]["site"], failed["placement"]["site"]

    def cleaned() -> dict | None:  # the failed session's cleanup runs after it became FAILED
        found = samples(http.get(server.url("/metrics")).text)
        deleted = value(found, "execplanner_cloud_calls_total", site=bad, operation="delete_server", outcome="ok")
        return found if deleted else None

    found = wait_for(cleaned, timeout=30)
    launches = _family(found, "execplanner_launches_total")
    assert value(found, "execplanner_launches_total", site=good, outcome="retried") == 1
    assert value(found, "execplanner_launches_total", site=good, outcome="available") == 1
    assert value(found, "execplanner_launches_total", site=bad, outcome="failed") == 1
    assert sum(launches.values()) == 3, launches
    calls = _family(found, "execplanner_cloud_calls_total")
    assert value(found, "execplanner_cloud_calls_total", site=good, operation="create_server", outcome="transient") == 1
    created = sum(
        v for labels, v in calls.items() if ("operation", "create_server") in labels and ("outcome", "ok") in labels
    )
    assert created == 2  # the retried one, and the one that booted into ERROR
    assert (value(found, "execplanner_cloud_calls_total", site=good, operation="get_server", outcome="ok") or 0) >= 1
    sites = {site.name for site in Catalogue.load(catalogue).sites}
    for labels in calls:
        names = dict(labels)
        assert set(names) == {"site", "operation", "outcome"}, names
        assert names["site"] in sites and names["outcome"] in ("ok", "error", "transient", "timeout"), names
        assert names["operation"].replace("_", "").isalpha(), names  # a fixed word, never a uuid


def test_a_launch_cancelled_while_the_server_boots_counts_as_cancelled(
    http, service_factory, wait_for, simcloud_fresh: SimFederation, tmp_path: Path
):
    catalogue = tmp_path / "catalogue.yaml"
    rebase(Catalogue.load(default_catalogue_path()), CANONICAL_SIM_URL, simcloud_fresh.base_url).save(catalogue)
    for site in Catalogue.load(catalogue).sites:
        simcloud_fresh.set_boot_delay(site.name, 6.0)
    server = service_factory(
        EXECPLANNER_CLOUD="egi",
        EXECPLANNER_CATALOGUE=str(catalogue),
        EXECPLANNER_ROBOT_TOKEN=simcloud_fresh.demo_token,
        EXECPLANNER_SCHEDULER_INTERVAL="0.1",
    )
    url = _launch_now(http, server)
    booting = wait_for(
        lambda: next(
            (
                s
                for s in [http.get(url, headers=JSON).json()]
                if "waiting for it to boot" in json.dumps(s.get("messages"))
            ),
            None,
        ),
        timeout=60,
    )
    update = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": "CANCELLED"}}
    assert http.post(url, json=update, headers=JSON).json()["phase"] == "CANCELLED"
    site = booting["placement"]["site"]

    def counted() -> dict | None:
        found = samples(http.get(server.url("/metrics")).text)
        return found if value(found, "execplanner_launches_total", site=site, outcome="cancelled") else None

    found = wait_for(counted, timeout=60)
    assert value(found, "execplanner_launches_total", site=site, outcome="cancelled") == 1
    assert sum(_family(found, "execplanner_launches_total").values()) == 1  # neither available nor failed


def _stopped_logs(server) -> list[dict]:
    server.process.send_signal(signal.SIGTERM)
    _out, err = server.communicate(timeout=20)
    lines = [line for line in err.splitlines() if line.strip()]
    parsed = [json.loads(line) for line in lines]  # every line is one JSON object
    assert FAKE_TOKEN not in err and "Bearer " + FAKE_TOKEN[:20] not in err
    return parsed


def test_with_the_simulator_in_the_process_the_log_is_still_json_lines(service_factory):
    """`serve --cloud sim` (what `make run` starts): the simulator's uvicorn leaves the service's logging alone, so
    uvicorn's own lines are JSON like the rest, not plain text."""
    server = service_factory(EXECPLANNER_CLOUD="sim", EXECPLANNER_LOG_LEVEL="INFO")
    server.process.send_signal(signal.SIGTERM)
    _out, err = server.communicate(timeout=20)
    announcement, *lines = [line for line in err.splitlines() if line.strip()]
    assert announcement.startswith("simulated FedCloud at http://127.0.0.1:")  # the one line for people
    logs = [json.loads(line) for line in lines]  # every other line is one JSON object
    assert any(line["logger"] == "uvicorn.error" and "startup complete" in line["message"] for line in logs)


def test_logs_are_json_lines_with_the_request_id_and_never_a_token(http, service_factory, idp):
    server = service_factory(EXECPLANNER_LOG_LEVEL="INFO")
    traced = {"X-Request-ID": "trace-abc-123", "Authorization": f"Bearer {FAKE_TOKEN}"}
    ask_and_accept(http, server, {"X-Request-ID": "trace-abc-123"})
    answer = http.get(server.url("/sessions"), headers={**JSON, **traced})
    assert answer.headers["X-Request-ID"] == "trace-abc-123"
    generated = http.get(server.url("/healthz"), headers={"X-Request-ID": "bad id with spaces"})
    assert len(generated.headers["X-Request-ID"]) == 32 and " " not in generated.headers["X-Request-ID"]
    assert http.get(server.url("/no/such")).headers["X-Request-ID"]

    logs = _stopped_logs(server)
    requests_seen = [line for line in logs if line["event"] == "request"]
    assert {"method", "route", "path", "status", "duration_ms", "request_id", "time", "level"} <= set(requests_seen[0])
    traced_lines = [line for line in logs if line.get("request_id") == "trace-abc-123"]
    events = {line["event"] for line in traced_lines}
    assert {"request", "phase_changed"} <= events, events
    changed = next(line for line in traced_lines if line["event"] == "phase_changed")
    assert changed["to"] == "ACCEPTED" and changed["session"]
    assert any(line["event"] == "service_started" for line in logs)


def test_a_refused_token_is_not_logged(http, service_factory, idp):
    server = service_factory(EXECPLANNER_LOG_LEVEL="DEBUG", EXECPLANNER_ISSUERS=idp.issuer)
    refused = http.get(server.url("/sessions"), headers={**JSON, "Authorization": f"Bearer {FAKE_TOKEN}"})
    assert refused.status_code == 401
    _stopped_logs(server)


def test_scrubbing_blanks_tokens_and_events_keep_their_fields():
    assert FAKE_TOKEN not in scrub(f"header was Bearer {FAKE_TOKEN} here")
    assert "hunter2" not in scrub("password=hunter2 token: hunter2")
    event, fields = event_fields("phase_changed session=abc from=OFFERED to=ACCEPTED reason='client asked, twice'")
    assert event == "phase_changed"
    assert fields == {"session": "abc", "from": "OFFERED", "to": "ACCEPTED", "reason": "client asked, twice"}
    assert event_fields("request status=303 duration_ms=1.5")[1] == {"status": 303, "duration_ms": 1.5}
    assert event_fields("Started server process [42]") == ("message", {})


def availability(http, server) -> tuple[str, list[str]]:
    root = etree.fromstring(http.get(server.url("/availability")).content)
    return root.findtext(f"{NS}available"), [note.text for note in root.findall(f"{NS}note")]


@pytest.mark.postgres
def test_availability_says_false_when_the_database_goes_away(http, app_factory, postgres_url_fresh):
    server = app_factory(database=postgres_url_fresh, EXECPLANNER_SCHEDULER="false")
    available, notes = availability(http, server)
    assert available == "true", notes
    assert "database: reachable" in notes
    assert any(note.startswith("catalogue: generated ") for note in notes)
    assert any(note.startswith("sites: ") and "reachable" in note for note in notes)

    name = postgres_url_fresh.rsplit("/", 1)[1]
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    available, notes = availability(http, server)
    assert available == "false"
    assert any(note.startswith("database unreachable: ") for note in notes), notes
    assert http.get(server.url("/healthz")).status_code == 200  # alive, though not available


LOOPS = ("scheduler", "driver")


@pytest.mark.postgres
def test_a_database_outage_logs_one_traceback_then_a_count_then_the_recovery(
    http, service_factory, postgres_url_fresh, wait_for
):
    """With the database refusing connections, the scheduler and the launch driver fail a pass every 0.05 s here:
    each loop logs the first failure with its traceback and counts the rest in `execplanner_pass_failures_total`,
    instead of a traceback per pass, and says once that it recovered."""
    server = service_factory(
        database=postgres_url_fresh,
        EXECPLANNER_CLOUD="sim",
        EXECPLANNER_SCHEDULER_INTERVAL="0.05",
        EXECPLANNER_LOG_LEVEL="INFO",
    )
    name = postgres_url_fresh.rsplit("/", 1)[1]

    def failures(least: float):
        def enough() -> dict | None:
            found = samples(http.get(server.url("/metrics")).text)
            counts = [value(found, "execplanner_pass_failures_total", loop=name) or 0 for name in LOOPS]
            return found if min(counts) >= least else None

        return enough

    def last_pass() -> float:
        scraped = samples(http.get(server.url("/metrics")).text)
        return value(scraped, "execplanner_scheduler_last_pass_timestamp_seconds")

    wait_for(lambda: last_pass() > 0)
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        try:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
            wait_for(failures(20), timeout=30)
            stalled = last_pass()
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    wait_for(lambda: last_pass() > stalled, timeout=30)

    server.process.send_signal(signal.SIGTERM)
    _out, err = server.communicate(timeout=20)
    logs = [json.loads(line) for line in err.splitlines()[1:] if line.strip()]  # after the simulator's address
    for loop in LOOPS:
        failed = [line for line in logs if line["event"] == f"{loop}_pass_failed"]
        assert len(failed) == 1, failed  # 20 and more failures, one line: the first, with its traceback
        assert failed[0]["level"] == "error" and "not currently accepting connections" in failed[0]["error"]
        [recovered] = [line for line in logs if line["event"] == f"{loop}_pass_recovered"]
        assert recovered["level"] == "warning" and recovered["failures"] >= 20 and recovered["after_seconds"] > 0


def test_availability_reports_the_catalogue_and_its_sites(http, app_factory):
    server = app_factory()
    available, notes = availability(http, server)
    assert available == "true"
    assert notes[0] == "database: reachable"
    assert notes[1].startswith("catalogue: generated ") and " ago) from " in notes[1]


def test_docs_page_renders_openapi_with_assets_served_here(http, app_factory):
    server = app_factory()
    page = http.get(server.url("/docs"))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for asset in ("docs/assets/swagger-ui-bundle.js", "docs/assets/swagger-ui.css", "static/docs.js"):
        assert asset in page.text
        fetched = http.get(server.url("/" + asset))
        assert fetched.status_code == 200 and len(fetched.content) > 100, asset
    assert "http://" not in page.text and "https://" not in page.text  # nothing from elsewhere

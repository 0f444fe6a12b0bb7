"""Fuzzing a real server with offer-set requests in two dialects × three formats and 2022-note questions
answered in three formats: never a 5xx, and every accepted document reads back in every format.

A few hundred cases run in the suite; `make fuzz` runs 10,000 and more (EXECPLANNER_FUZZ_EXAMPLES, per target)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import requests
import yaml
from hypothesis import HealthCheck, given, settings
from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
from documents import note_question, offerset_request  # noqa: E402
from hostile import serving  # noqa: E402

from execplanner.formats import tree as wire  # noqa: E402
from execplanner.formats.media import Format  # noqa: E402

EXAMPLES = int(os.environ.get("EXECPLANNER_FUZZ_EXAMPLES", "30"))
ACCEPTS = ("application/json", "application/yaml", "application/xml")
FORMATS = {"json": Format.JSON, "yaml": Format.YAML, "xml": Format.XML}
FUZZ = settings(
    max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 100, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(scope="module")
def server(tmp_path_factory, roomy_catalogue):
    with (
        serving(tmp_path_factory.mktemp("fuzz"), roomy_catalogue) as (base_url, _port, _process),
        requests.Session() as http,
    ):
        yield base_url, http


def encode(document: dict, fmt: Format) -> bytes | None:
    """The document as bytes, or None when the format cannot carry it at all (a client could not send it)."""
    try:
        if fmt is Format.JSON:
            return json.dumps(document).encode()
        if fmt is Format.YAML:
            return yaml.safe_dump(document).encode()
        return wire.render(document, Format.XML, root="offers-request")
    except (ValueError, TypeError, yaml.YAMLError):
        return None


def reads_back(http: requests.Session, url: str) -> None:
    for accept in ACCEPTS:
        got = http.get(url, headers={"Accept": accept}, timeout=30)
        assert got.status_code == 200, (url, accept, got.status_code, got.text[:300])
        if accept == "application/xml":
            etree.fromstring(got.content)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("dialect", ["2025", "2026"])
def test_offerset_requests_never_fail_the_server(server, dialect, fmt):
    base_url, http = server

    @FUZZ
    @given(offerset_request(dialect))
    def check(document):
        body = encode(document, FORMATS[fmt])
        if body is None:
            return
        answer = http.post(
            base_url + "/offersets",
            data=body,
            headers={"Content-Type": f"application/{fmt}"},
            allow_redirects=False,
            timeout=30,
        )
        assert answer.status_code < 500, (answer.status_code, answer.text[:500], body[:500])
        if answer.status_code == 303:
            reads_back(http, answer.headers["Location"])
        else:
            assert answer.json()["messages"][0]["message"]

    check()


@pytest.mark.parametrize("accept", ACCEPTS)
def test_note_questions_never_fail_the_server(server, accept):
    base_url, http = server

    @FUZZ
    @given(note_question())
    def check(params):
        answer = http.get(base_url + "/accepts", params=params, headers={"Accept": accept}, timeout=30)
        assert answer.status_code < 500, (answer.status_code, answer.text[:500], params)

    check()

"""Every file in examples/ is sent to a real server, as a new user would with curl."""

from __future__ import annotations

from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TYPES = {".json": "application/json", ".yaml": "application/yaml", ".xml": "application/xml"}
REQUESTS = sorted((EXAMPLES / "requests").iterdir())
UPDATES = sorted((EXAMPLES / "updates").iterdir())


def test_examples_exist():
    assert {p.suffix for p in REQUESTS} == set(TYPES)
    assert any("oligia" in p.name for p in REQUESTS)
    assert {p.stem for p in UPDATES} >= {"accept", "reject"}


@pytest.mark.parametrize("path", REQUESTS, ids=lambda p: p.name)
def test_request_examples_get_offers(http, service, path):
    created = http.post(
        service.url("/offersets"),
        data=path.read_bytes(),
        headers={"Content-Type": TYPES[path.suffix]},
        allow_redirects=False,
    )
    assert created.status_code == 303, created.text
    document = http.get(created.headers["Location"]).json()
    assert document["result"] == "YES", document["messages"]
    assert len(document["offers"]) >= 2


@pytest.mark.parametrize("path", UPDATES, ids=lambda p: p.name)
def test_update_examples_change_a_session(http, service, path):
    request = REQUESTS[0]
    document = http.post(
        service.url("/offersets"), data=request.read_bytes(), headers={"Content-Type": TYPES[request.suffix]}
    ).json()
    offer = document["offers"][0]
    href = offer.get("href") or offer["meta"]["url"]
    answer = http.post(
        href, data=path.read_bytes(), headers={"Content-Type": TYPES[path.suffix], "Accept": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    expected = "ACCEPTED" if path.stem == "accept" else "REJECTED"
    assert answer.json()["phase"] == expected

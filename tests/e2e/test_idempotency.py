"""Idempotency-Key on POST /offersets and POST /direct: a client whose answer was lost sends the request again with
the key it sent first, and is shown what the first made instead of being given (and charged for) a second offer
set or a second VM. Each test asks as a person of its own, so the lists show only what that test made."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from support import keyed
from support.keyed import JSON, body, listed, new_person, post

idp, server, person = keyed.idp, keyed.server, keyed.person  # the module's fixtures


def test_a_retried_ask_is_shown_the_offer_set_the_first_made(http, server, person):
    key = str(uuid.uuid4())
    first = post(http, server, "/offersets", person, body(), key)
    again = post(http, server, "/offersets", person, body(), key)
    assert first.status_code == again.status_code == 303, again.text
    assert again.headers["Location"] == first.headers["Location"]
    assert again.json()["uuid"] == first.json()["uuid"]
    assert len(listed(http, server, "/offersets", person)) == 1
    offers = len(first.json()["offers"])
    assert offers > 0 and len(listed(http, server, "/sessions", person)) == offers  # held once, not twice


def test_a_retry_sees_the_offer_set_as_it_is_now(http, server, person):
    key = str(uuid.uuid4())
    first = post(http, server, "/offersets", person, body(), key).json()
    update = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": "ACCEPTED"}}
    accepted = http.post(first["offers"][0]["href"], json=update, headers={**JSON, "Authorization": f"Bearer {person}"})
    assert accepted.status_code == 200, accepted.text
    again = post(http, server, "/offersets", person, body(), key)
    assert again.status_code == 303
    phases = [offer["phase"] for offer in again.json()["offers"]]
    assert phases[0] == "ACCEPTED" and set(phases[1:]) <= {"REJECTED"}  # the same offers, not new ones


def test_the_same_key_with_another_request_is_refused_and_books_nothing(http, server, person):
    key = str(uuid.uuid4())
    assert post(http, server, "/offersets", person, body("first"), key).status_code == 303
    other = post(http, server, "/offersets", person, body("second"), key)
    assert other.status_code == 422, other.text
    error = other.json()
    assert error["status"] == 422 and "Idempotency-Key" in error["messages"][0]["message"]
    assert len(listed(http, server, "/offersets", person)) == 1


def test_a_key_counts_per_owner_and_per_route(http, server, person, idp):
    other_person = new_person(idp, "q")
    key = str(uuid.uuid4())
    mine = post(http, server, "/offersets", person, body(), key)
    theirs = post(http, server, "/offersets", other_person, body(), key)
    anonymous = post(http, server, "/offersets", None, body(), key)
    locations = {answer.headers["Location"] for answer in (mine, theirs, anonymous)}
    assert len(locations) == 3  # another owner's key is another key: never shown someone else's offer set
    direct = post(http, server, "/direct", person, body(), key)
    assert direct.status_code == 303 and "/sessions/" in direct.headers["Location"]


@pytest.mark.parametrize(
    "sent",
    ["has space", "x" * 129, "", "caf\u00e9", "a,b", '"unclosed'],
    ids=["space", "too-long", "empty", "non-ascii", "comma", "quote"],
)
def test_a_header_that_is_no_key_is_refused_before_anything_is_booked(http, server, person, sent):
    headers = {**JSON, "Authorization": f"Bearer {person}", "Idempotency-Key": sent.encode("utf-8")}
    answer = http.post(server.url("/offersets"), data=body(), headers=headers, allow_redirects=False)
    assert answer.status_code == 400, answer.text
    assert "Idempotency-Key" in answer.json()["messages"][0]["message"]
    assert listed(http, server, "/offersets", person) == []


def test_the_key_may_come_quoted_as_the_ietf_draft_writes_it(http, server, person):
    key = str(uuid.uuid4())
    first = post(http, server, "/offersets", person, body(), f'"{key}"')
    again = post(http, server, "/offersets", person, body(), key)
    assert first.status_code == again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"]


def test_twenty_copies_of_one_request_at_once_make_one_offer_set(http, server, person):
    """The copies reach the writer in one batch or several: each finds the key the first wrote, in its batch or in
    the database, under the capacity lock."""
    key = str(uuid.uuid4())

    def send(_: int) -> requests.Response:
        with requests.Session() as own:
            return post(own, server, "/offersets", person, body(), key)

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(send, range(20)))
    assert {answer.status_code for answer in answers} == {303}
    assert len({answer.headers["Location"] for answer in answers}) == 1
    assert len(listed(http, server, "/offersets", person)) == 1


def test_a_retried_direct_request_is_shown_the_session_the_first_made(http, server, person):
    key = str(uuid.uuid4())
    first = post(http, server, "/direct", person, body(), key)
    again = post(http, server, "/direct", person, body(), key)
    assert first.status_code == again.status_code == 303, again.text
    assert again.headers["Location"] == first.headers["Location"]
    assert len(listed(http, server, "/sessions", person)) == 1
    other = post(http, server, "/direct", person, body("another"), key)
    assert other.status_code == 422
    assert len(listed(http, server, "/sessions", person)) == 1


def test_without_a_key_every_request_is_booked(http, server, person):
    for _ in range(2):
        assert post(http, server, "/offersets", person, body(), None).status_code == 303
    assert len(listed(http, server, "/offersets", person)) == 2


@pytest.mark.postgres
def test_copies_sent_to_two_replicas_at_once_make_one_offer_set(http, app_factory, idp, postgres_url_fresh):
    """Two replicas on one PostgreSQL database: the key is looked up under the federation-wide capacity lock, so
    whichever books second finds what the first made."""
    replicas = [app_factory(database=postgres_url_fresh, EXECPLANNER_ISSUERS=idp.issuer) for _ in range(2)]
    token, key = new_person(idp, "r"), str(uuid.uuid4())

    def send(index: int) -> requests.Response:
        with requests.Session() as own:
            return post(own, replicas[index % 2], "/offersets", token, body(), key)

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(send, range(20)))
    assert {answer.status_code for answer in answers} == {303}
    assert len({answer.json()["uuid"] for answer in answers}) == 1
    assert len(listed(http, replicas[0], "/offersets", token)) == 1

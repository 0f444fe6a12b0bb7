"""Attacks on the Idempotency-Key of POST /offersets (/requests) and POST /direct (/sessions), held against the
contract in docs/formats.md ("execplanner extensions", the `Idempotency-Key` bullet). tests/e2e/test_idempotency.py
has the feature's own tests; these are what a tester tried on top of them. Each test asks as a person of its own,
so the lists show only what that test made."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPConnection
from urllib.parse import urlsplit

import pytest
import requests
import yaml
from support import keyed
from support.keyed import JSON, body, document, listed, new_person, post

idp, server, person = keyed.idp, keyed.server, keyed.person  # the module's fixtures

UNKNOWN_TYPE = "https://example.org/executables/no-such-type-1.0"


# --- findings (they failed on the code as it was) -----------------------------------------------------------------


def test_a_used_key_sent_with_an_unknown_executable_type_is_refused_and_records_nothing(http, server, person):
    """docs/formats.md: "The same key with another body (its bytes' SHA-256 differs) is refused with `422` and
    books nothing." post_offerset takes the refusal path (record_refusal) before the key is ever looked at, so the
    key's second, different body is answered 303 with a new (NO) offer set in the owner's list instead."""
    key = str(uuid.uuid4())
    first = post(http, server, "/offersets", person, body(), key)
    assert first.status_code == 303, first.text
    other = post(http, server, "/offersets", person, body(executable_type=UNKNOWN_TYPE), key)
    assert other.status_code == 422, (other.status_code, other.headers.get("Location"))
    assert len(listed(http, server, "/offersets", person)) == 1


@pytest.mark.parametrize(
    "sent",
    [b"\xa0KEY", b"KEY\x85", b"KEY\x1c", b'"KEY"\xa0'],
    ids=["nbsp-before", "nel-after", "control-after", "nbsp-after-quotes"],
)
def test_a_key_with_bytes_outside_the_documented_set_is_refused(http, server, person, sent):
    """docs/formats.md: the key is "1 to 128 characters from `A-Z a-z 0-9 . _ : @ / + = -`, bare or in double
    quotes ...; anything else ... is a 400 before the body is read" (openapi.yaml's pattern says the same).
    _key_sent calls str.strip(), which also strips what latin-1 decodes to Unicode whitespace (0xA0 NBSP, 0x85 NEL)
    and the C0 separators 0x1C-0x1F: such a header is taken as the bare key, and books."""
    key = uuid.uuid4().hex.encode()
    answer = post(http, server, "/offersets", person, body(), sent.replace(b"KEY", key))
    assert answer.status_code == 400, (answer.status_code, answer.headers.get("Location"))
    assert listed(http, server, "/offersets", person) == []


# --- attacks that held (cheap, kept as regression tests) ---------------------------------------------------------


def test_offersets_and_requests_share_a_key_as_do_direct_and_sessions(http, server, person):
    key = str(uuid.uuid4())
    asked = post(http, server, "/offersets", person, body(), key)
    again = post(http, server, "/requests", person, body(), key)
    assert asked.status_code == again.status_code == 303
    assert again.headers["Location"] == asked.headers["Location"]
    direct = post(http, server, "/direct", person, body(), key)
    session = post(http, server, "/sessions", person, body(), key)
    assert direct.status_code == session.status_code == 303
    assert session.headers["Location"] == direct.headers["Location"] and "/sessions/" in direct.headers["Location"]
    assert len(listed(http, server, "/offersets", person)) == 1
    offers = len(asked.json()["offers"])
    assert len(listed(http, server, "/sessions", person)) == offers + 1  # the offers, and one direct session


def test_the_same_request_as_yaml_with_the_same_key_is_another_body(http, server, person):
    """The digest is of the bytes (docs/formats.md): the same document in YAML, or with a newline more, is 422."""
    key = str(uuid.uuid4())
    assert post(http, server, "/offersets", person, body(), key).status_code == 303
    as_yaml = yaml.safe_dump(document()).encode()
    assert post(http, server, "/offersets", person, as_yaml, key, "application/yaml").status_code == 422
    assert post(http, server, "/offersets", person, body() + b"\n", key).status_code == 422
    assert len(listed(http, server, "/offersets", person)) == 1


def test_the_header_twice_is_refused_even_with_one_value(http, server, person):
    """docs/formats.md: "the header twice, is a 400" (requests keeps one value per name: http.client sends two)."""
    key = str(uuid.uuid4())
    where = urlsplit(server.url("/offersets"))
    connection = HTTPConnection(where.hostname, where.port, timeout=10)
    try:
        connection.putrequest("POST", where.path)
        for name, value in [*JSON.items(), ("Authorization", f"Bearer {person}")]:
            connection.putheader(name, value)
        connection.putheader("Idempotency-Key", key)
        connection.putheader("idempotency-key", key)
        connection.endheaders(body())
        answer = connection.getresponse()
        assert answer.status == 400, answer.read()
    finally:
        connection.close()
    assert listed(http, server, "/offersets", person) == []


def test_a_body_refused_as_unreadable_leaves_its_key_free(http, server, person):
    """docs/formats.md: "A request refused before it is planned (a document that cannot be read ...) is not
    remembered": the same key then makes the valid request, and its retry replays it."""
    key = str(uuid.uuid4())
    assert post(http, server, "/offersets", person, b"{not json", key).status_code == 400
    made = post(http, server, "/offersets", person, body(), key)
    again = post(http, server, "/offersets", person, body(), key)
    assert made.status_code == again.status_code == 303
    assert again.headers["Location"] == made.headers["Location"]
    assert len(listed(http, server, "/offersets", person)) == 1


def test_another_owner_reusing_a_key_with_another_body_learns_nothing(http, server, person, idp):
    """A key counts per owner: someone else's key with another body is a new request of theirs (303), never a 422
    that would tell them the key is in use, nor the first owner's offer set."""
    key = str(uuid.uuid4())
    mine = post(http, server, "/offersets", person, body("mine"), key)
    other = new_person(idp, "a")
    theirs = post(http, server, "/offersets", other, body("theirs"), key)
    assert mine.status_code == theirs.status_code == 303
    assert theirs.headers["Location"] != mine.headers["Location"]
    assert mine.json()["uuid"] not in theirs.text


@pytest.mark.postgres
def test_one_key_with_two_bodies_racing_on_two_replicas_makes_one_offer_set(http, app_factory, idp, postgres_url_fresh):
    """40 copies, half with one body and half with another, over two replicas: one body wins (all its copies 303 to
    one offer set), every copy of the other is 422, nothing else is made."""
    replicas = [app_factory(database=postgres_url_fresh, EXECPLANNER_ISSUERS=idp.issuer) for _ in range(2)]
    token, key = new_person(idp, "a"), str(uuid.uuid4())

    def send(index: int) -> requests.Response:
        with requests.Session() as own:
            return post(own, replicas[index % 2], "/offersets", token, body(f"b{index // 2 % 2}"), key)

    with ThreadPoolExecutor(max_workers=40) as pool:
        answers = list(pool.map(send, range(40)))
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [303] * 20 + [422] * 20, statuses
    made = {answer.headers["Location"].rsplit("/", 1)[1] for answer in answers if answer.status_code == 303}
    assert len(made) == 1  # one offer set (each replica names it under its own address)
    assert len(listed(http, replicas[0], "/offersets", token)) == 1


def test_a_retry_after_the_offers_expired_holds_nothing_again(http, app_factory, idp, database_url, wait_for):
    """docs/formats.md: the retry is answered with the offer set "as it is now (its offers may have ... expired
    since)", and no second offer set holds capacity: the expired offers stay expired, nothing new is held."""
    started = app_factory(database=database_url, EXECPLANNER_ISSUERS=idp.issuer, EXECPLANNER_OFFER_EXPIRY_SECONDS="0.5")
    token, key = new_person(idp, "a"), str(uuid.uuid4())
    first = post(http, started, "/offersets", token, body(), key)
    assert first.status_code == 303 and first.json()["offers"]

    def expired() -> bool:
        return {s["phase"] for s in listed(http, started, "/sessions", token)} == {"EXPIRED"}

    wait_for(expired)
    again = post(http, started, "/offersets", token, body(), key)
    assert again.status_code == 303 and again.json()["uuid"] == first.json()["uuid"]
    assert {offer["phase"] for offer in again.json()["offers"]} == {"EXPIRED"}
    assert len(listed(http, started, "/offersets", token)) == 1
    assert expired() and len(listed(http, started, "/sessions", token)) == len(first.json()["offers"])

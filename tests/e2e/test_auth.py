"""Bearer tokens against a real server and a fake EGI Check-in on loopback: who may be offered a launch, who owns
what they were offered, and what a 401 says. Entitlements come from userinfo, as Check-in gives them."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
import requests
from auth.fake_idp import FakeIdP

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "requests" / "oligia-webtop.json"
VO = "vo.access.egi.eu"
OPERATOR = f"urn:mace:egi.eu:group:{VO}:role=vm_operator#aai.egi.eu"
MEMBER = f"urn:mace:egi.eu:group:{VO}:role=member#aai.egi.eu"
JSON = {"Content-Type": "application/json", "Accept": "application/json"}


def request_for(vo: str | None = VO) -> bytes:
    document = json.loads(EXAMPLE.read_text())
    if vo:
        document["vo"] = vo
    return json.dumps(document).encode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def people(idp):
    """alice may launch in the VO, bob is only a member, carol is in no VO at all."""
    idp.entitlements.update({"alice": [MEMBER, OPERATOR], "bob": [MEMBER], "carol": []})
    return {name: idp.mint(name) for name in ("alice", "bob", "carol")}


@pytest.fixture(scope="module")
def idp():
    """One fake Check-in for the module: tests only add people to it, never change anyone's entitlements."""
    with FakeIdP.start() as provider:
        yield provider


@pytest.fixture(scope="module")
def server(module_app_factory, idp, module_database_url):
    """In process, one per backend for the module: each test asks as its own people and reads only what it made
    (nothing here but the log test needs a process of its own; that one starts its own)."""
    started = module_app_factory(database=module_database_url, EXECPLANNER_ISSUERS=idp.issuer)
    yield started
    started.stop()  # here, before its database goes (module_app_factory's own stop comes after the module's last)


def ask(http, server, token: str | None, body: bytes | None = None) -> requests.Response:
    headers = {**JSON, **(bearer(token) if token else {})}
    return http.post(server.url("/offersets"), data=body or request_for(), headers=headers, allow_redirects=False)


def offerset(http, server, token: str | None) -> dict:
    created = ask(http, server, token)
    assert created.status_code == 303, created.text
    answer = http.get(created.headers["Location"], headers={**JSON, **(bearer(token) if token else {})})
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_vm_operator_is_offered_and_owns_the_offers(http, server, people):
    alice, bob = people["alice"], people["bob"]
    found = offerset(http, server, alice)
    assert found["result"] == "YES" and found["offers"]
    location = server.url(f"/offersets/{found['uuid']}")
    session = found["offers"][0]["href"]
    assert http.get(location, headers={**JSON, **bearer(bob)}).status_code == 403
    steal = http.post(
        session,
        json={"update": {"type": "uri:enum-value-update", "path": "phase", "value": "ACCEPTED"}},
        headers={**JSON, **bearer(bob)},
    )
    assert steal.status_code == 403 and "another user" in steal.text
    anonymous = http.get(session, headers=JSON)
    assert anonymous.status_code == 401
    assert http.get(session, headers={**JSON, **bearer(alice)}).json()["phase"] == "OFFERED"  # bob changed nothing
    accepted = http.post(
        session,
        json={"update": {"type": "uri:enum-value-update", "path": "phase", "value": "ACCEPTED"}},
        headers={**JSON, **bearer(alice)},
    )
    assert accepted.status_code == 200 and accepted.json()["phase"] == "ACCEPTED"


def test_a_member_without_vm_operator_is_told_which_entitlement_is_missing(http, server, people):
    found = offerset(http, server, people["bob"])
    assert found["result"] == "NO" and not found.get("offers")
    texts = [m["message"] for m in found["messages"]]
    assert any(OPERATOR in text and "vm_operator role" in text for text in texts), texts


def test_someone_outside_the_vo_is_told_so(http, server, people):
    found = offerset(http, server, people["carol"])
    assert found["result"] == "NO"
    assert any(f"no membership of {VO}" in m["message"] for m in found["messages"])


def test_direct_execution_refuses_a_member_without_vm_operator(http, server, people):
    answer = http.post(
        server.url("/direct"), data=request_for(), headers={**JSON, **bearer(people["bob"])}, allow_redirects=False
    )
    assert answer.status_code == 400
    assert OPERATOR in answer.text


def test_legacy_accepts_gives_the_same_reason(http, server, people):
    answer = http.get(
        server.url("/accepts"), params={"tasktype": "uri://jupyter-notebook"}, headers={**JSON, **bearer(people["bob"])}
    )
    assert answer.status_code == 200
    assert OPERATOR in answer.text and '"NO"' in answer.text


@pytest.mark.parametrize("module_database_url", ["sqlite"], indirect=True)
def test_a_bad_token_is_a_401_with_the_issuers_to_ask(http, server, idp):
    for token in ("not-a-jwt", idp.mint("alice", exp=1), idp.mint("alice", iss="https://elsewhere.example/")):
        answer = ask(http, server, token)
        assert answer.status_code == 401, answer.text
        challenges = answer.raw.headers.getlist("WWW-Authenticate")
        assert "Bearer" in challenges
        assert f'ivoa_bearer standard_id="ivo://ivoa.net/sso#OpenID", access_url="{idp.issuer}"' in challenges
        assert answer.json()["messages"][0]["message"]
        assert token not in answer.text


@pytest.mark.parametrize("module_database_url", ["sqlite"], indirect=True)
def test_anonymous_callers_still_plan_when_tokens_are_optional(http, server):
    assert offerset(http, server, None)["result"] == "YES"


def test_require_token_refuses_anonymous_callers_but_not_vosi(http, app_factory, idp, people, tmp_path):
    server = app_factory(EXECPLANNER_ISSUERS=idp.issuer, EXECPLANNER_REQUIRE_TOKEN="true")
    assert ask(http, server, None).status_code == 401
    assert http.get(server.url("/accepts"), params={"tasktype": "uri://jupyter-notebook"}).status_code == 401
    assert http.get(server.url("/capabilities")).status_code == 200
    assert http.get(server.url("/availability")).status_code == 200
    assert offerset(http, server, people["alice"])["result"] == "YES"


def test_without_trusted_issuers_a_token_is_ignored(http, app_factory):
    server = app_factory()
    assert offerset(http, server, "whatever-a-platform-sends")["result"] == "YES"


def test_no_token_reaches_the_log(http, service_factory, idp, people):
    server = service_factory(EXECPLANNER_ISSUERS=idp.issuer, EXECPLANNER_LOG_LEVEL="DEBUG")
    forged = idp.mint("mallory", key=idp.private_key("ES256"), alg="ES256", kid=idp.rsa_kid)
    for token in (people["alice"], people["bob"], forged, "opaque-secret-token-value"):
        ask(http, server, token)
    server.process.send_signal(signal.SIGTERM)
    out, err = server.communicate(timeout=30)
    assert "token_rejected" in err  # the log did record the refusals...
    for token in (people["alice"], people["bob"], forged, "opaque-secret-token-value"):
        assert token not in out + err  # ...but never a token
        assert token.split(".")[-1] not in out + err  # not even its signature


@pytest.mark.parametrize("module_database_url", ["sqlite"], indirect=True)
def test_the_client_commands_send_the_token_from_the_environment(server, people):
    import re

    from click.testing import CliRunner

    from execplanner.cli import main

    runner = CliRunner()
    alice = {"EXECPLANNER_URL": server.base_url, "EXECPLANNER_OIDC_TOKEN": people["alice"]}
    asked = runner.invoke(main, ["ask", str(EXAMPLE)], env=alice)
    assert asked.exit_code == 0 and asked.output.startswith("YES"), asked.output
    first = re.findall(r"^  ([0-9a-f-]{36})  OFFERED", asked.output, re.MULTILINE)[0]
    as_bob = runner.invoke(main, ["sessions", "accept", first], env={**alice, "EXECPLANNER_OIDC_TOKEN": people["bob"]})
    assert as_bob.exit_code != 0 and "403" in as_bob.output
    accepted = runner.invoke(main, ["sessions", "accept", first], env=alice)
    assert accepted.exit_code == 0 and "ACCEPTED" in accepted.output
    assert people["alice"] not in asked.output + accepted.output


@pytest.mark.parametrize("module_database_url", ["sqlite"], indirect=True)
def test_an_accepted_token_is_confirmed_in_x_vo_authenticated(http, server, idp, people):
    answer = ask(http, server, people["alice"])
    assert answer.headers["X-VO-Authenticated"] == f"alice@{idp.issuer}"
    assert "X-VO-Authenticated" not in ask(http, server, None).headers


@pytest.mark.parametrize("module_database_url", ["sqlite"], indirect=True)
def test_a_bad_token_is_refused_before_the_body_is_judged(http, server):
    """A client with a broken token learns that first, whatever else is wrong with its request."""
    answer = http.post(server.url("/offersets"), data=b"{not json", headers={**JSON, **bearer("not-a-jwt")})
    assert answer.status_code == 401


@pytest.mark.parametrize("module_database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "header",
    [
        "Basic YWxpY2U6c2VjcmV0",
        "Bearer",
        "Bearer a b",
        "Bearer " + "a" * 20000,
        "Bearer é",
        "Bearer a.b.c",
        "bearer ...",
    ],
)
def test_hostile_authorization_headers_are_401s(http, server, header):
    answer = http.post(
        server.url("/offersets"), data=request_for(), headers={**JSON, "Authorization": header}, allow_redirects=False
    )
    assert answer.status_code == 401, answer.text
    assert answer.json()["messages"][0]["message"]


@pytest.mark.parametrize("module_database_url", ["sqlite"], indirect=True)
def test_a_subject_that_cannot_be_an_owner_or_a_header_is_refused(http, server, idp):
    """A trusted issuer's odd subject (here trying to add a header) is a 401, not a broken answer."""
    idp.entitlements["eve\r\nX-Injected: 1"] = [OPERATOR]
    answer = ask(http, server, idp.mint("eve\r\nX-Injected: 1"))
    assert answer.status_code == 401 and "subject" in answer.text
    assert "X-Injected" not in answer.headers and "X-VO-Authenticated" not in answer.headers


def test_the_longest_subject_oidc_allows_is_an_owner_like_any_other(http, server, idp):
    """OIDC subjects may be 255 characters; with the issuer's URL the owner is longer than that."""
    subject = "s" * 255
    idp.entitlements[subject] = [OPERATOR]
    found = offerset(http, server, idp.mint(subject))
    assert found["result"] == "YES"
    other = http.get(found["offers"][0]["href"], headers={**JSON, **bearer(idp.mint("x"))})
    assert other.status_code == 403

"""Launch credentials end to end: a real service launching on a simulated federation of its own (`--cloud egi`)
with the real openstacksdk over HTTP, callers' tokens checked against a fake Check-in (tests/auth/fake_idp.py).

Per-user mode: Keystone will not let the session's restricted application credential delete itself, so the
owner's own token deletes it when they cancel. Robot mode: a refresh token and client refreshed at the simulated
Check-in's token endpoint, and application credentials at sites that take nothing else."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import keystoneauth1.exceptions.http
import openstack
import pytest
import requests
import yaml

from execplanner.catalogue import Catalogue, default_catalogue_path
from execplanner.cloud.sealing import new_key
from execplanner.simcloud import SimFederation, entitlement
from execplanner.simcloud.connect import connect
from execplanner.simcloud.default_catalogue import CANONICAL_SIM_URL, rebase

REFUSED = (openstack.exceptions.HttpException, keystoneauth1.exceptions.http.HttpError)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "requests"
VO = "vo.access.egi.eu"
OPERATOR = f"urn:mace:egi.eu:group:{VO}:role=vm_operator#aai.egi.eu"
MEMBER = f"urn:mace:egi.eu:group:{VO}:role=member#aai.egi.eu"
JSON = {"Accept": "application/json", "Content-Type": "application/json"}
FAST = {"EXECPLANNER_SCHEDULER_INTERVAL": "0.1", "EXECPLANNER_READY_TIMEOUT": "20", "EXECPLANNER_CLAIM_SECONDS": "5"}
LIVE = ("READY", "AVAILABLE", "RUNNING")


def _catalogue(fed: SimFederation, tmp_path: Path) -> Path:
    path = tmp_path / "catalogue.yaml"
    rebase(Catalogue.load(default_catalogue_path()), CANONICAL_SIM_URL, fed.base_url).save(path)
    return path


def _request(**changes: Any) -> dict[str, Any]:
    document = json.loads((EXAMPLES / "oligia-webtop.json").read_text())
    document.pop("schedule", None)  # start now
    document.update({"vo": VO, **changes})
    return document


def _messages(session: dict[str, Any]) -> str:
    return " | ".join(m["message"] for m in session.get("messages", []))


def _launch_in_every_format(http: requests.Session, url: str, headers: dict[str, str]) -> list[dict[str, str]]:
    """The session's `launch` field as JSON, YAML and XML, each answer checked against its schema."""
    from formats.test_schemas import assert_valid_body

    found = []
    for fmt, media in (("json", "application/json"), ("yaml", "application/yaml"), ("xml", "application/xml")):
        answer = http.get(url, headers={**headers, "Accept": media})
        assert answer.status_code == 200, answer.text
        body = assert_valid_body(answer, fmt, "session.schema.json", "execution")
        if fmt == "xml":
            (element,) = [e for e in body if e.tag.rsplit("}", 1)[-1] == "launch"]
            found.append({child.tag.rsplit("}", 1)[-1]: child.text for child in element})
        else:
            found.append({key: str(value) for key, value in body["launch"].items()})
    assert found[0] == found[1] == found[2], found
    return found


def _cancel(http: requests.Session, url: str, headers: dict[str, str]) -> dict[str, Any]:
    update = {"update": {"type": "uri:enum-value-update", "path": "phase", "value": "CANCELLED"}}
    answer = http.post(url, json=update, headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _until(wait_for: Any, http: requests.Session, url: str, headers: dict[str, str], done: Any) -> dict[str, Any]:
    seen: list[dict[str, Any]] = []

    def reached() -> dict[str, Any] | None:
        session = http.get(url, headers=headers).json()
        seen[:] = [session]
        if session["phase"] == "FAILED" and not done(session):
            raise AssertionError(_messages(session))
        return session if done(session) else None

    try:
        return wait_for(reached, timeout=60)
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {seen[0]['phase']}: {_messages(seen[0])}" if seen else str(exc)) from None


def test_per_user_credential_kept_by_keystone_is_deleted_with_the_owners_token_at_cancel(
    app_factory: Any, http: requests.Session, wait_for: Any, simcloud_fresh: SimFederation, idp: Any, tmp_path: Path
) -> None:
    idp.entitlements["alice"] = [MEMBER, OPERATOR]
    token = idp.mint("alice", lifetime=3600)
    simcloud_fresh.add_token(token, [entitlement(VO)], name="alice")  # the same Check-in token, at the sites
    key = tmp_path / "credential.key"
    key.write_text(new_key())
    service = app_factory(
        EXECPLANNER_CLOUD="egi",
        EXECPLANNER_CATALOGUE=str(_catalogue(simcloud_fresh, tmp_path)),
        EXECPLANNER_ISSUERS=idp.issuer,
        EXECPLANNER_CREDENTIAL_KEY_FILE=str(key),
        **FAST,
    )
    alice = {**JSON, "Authorization": f"Bearer {token}"}
    answer = http.post(service.url("/direct"), json=_request(), headers=alice, allow_redirects=False)
    assert answer.status_code == 303, answer.text
    url = answer.headers["location"]
    session = _until(wait_for, http, url, alice, lambda s: s["phase"] in LIVE)
    site = session["placement"]["site"]
    (credential,) = simcloud_fresh.state(site).app_credentials
    assert "launching with your own application credential" in _messages(session)
    launch = _launch_in_every_format(http, url, alice)[0]
    assert launch["mode"] == "per-user" and launch["identity"] == f"alice@{idp.issuer}"
    assert launch["credential"] == "application-credential" and launch["credential_id"] == credential.id
    assert launch["site"] == site and launch["project"] and launch["expires"].endswith("Z")
    idp.entitlements["bob"] = [MEMBER, OPERATOR]
    assert http.get(url, headers={**JSON, "Authorization": f"Bearer {idp.mint('bob')}"}).status_code == 403

    assert _cancel(http, url, alice)["phase"] == "CANCELLED"
    done = _until(wait_for, http, url, alice, lambda s: "deleted with your token" in _messages(s))
    assert f"application credential {credential.id} was not deleted" in _messages(done)  # Keystone refused it
    assert simcloud_fresh.state(site).app_credentials == [] and simcloud_fresh.state(site).servers == []


def _direct(http: requests.Session, service: Any, headers: dict[str, str] = JSON) -> str:
    answer = http.post(service.url("/direct"), json=_request(), headers=headers, allow_redirects=False)
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def _robot_file(tmp_path: Path, entries: dict[str, Any]) -> Path:
    path = tmp_path / "robot.yaml"
    path.write_text(yaml.safe_dump(entries))
    path.chmod(0o600)
    return path


def test_robot_refresh_token_launches_refreshes_expired_tokens_and_a_refused_one_fails_clearly(
    service_factory: Any, http: requests.Session, wait_for: Any, simcloud_fresh: SimFederation, tmp_path: Path
) -> None:
    """The operator's Check-in refresh token and client, refreshed at the (simulated) Check-in token endpoint;
    neither ever shows in the service's log (at DEBUG), its answers or its database."""
    fed = simcloud_fresh
    refresh, secret = "robot-refresh-" + secrets.token_urlsafe(24), "robot-secret-" + secrets.token_urlsafe(24)
    fed.add_refresh_token(refresh, "execplanner-robot", secret, [entitlement(VO)], name="robot", access_ttl=3)
    robot = _robot_file(
        tmp_path,
        {
            VO: {
                "name": "execplanner robot of vo.access.egi.eu",
                "refresh_token": refresh,
                "client_id": "execplanner-robot",
                "client_secret": secret,
                "token_endpoint": fed.token_endpoint,
            }
        },
    )
    data = tmp_path / "data"
    service = service_factory(
        data_dir=data,
        EXECPLANNER_CLOUD="egi",
        EXECPLANNER_CATALOGUE=str(_catalogue(fed, tmp_path)),
        EXECPLANNER_ROBOT_CREDENTIALS=str(robot),
        EXECPLANNER_LOG_LEVEL="DEBUG",
        **FAST,
    )
    answers: list[str] = []

    def watch(url: str, done: Any) -> dict[str, Any]:
        session = _until(wait_for, http, url, JSON, done)
        answers.append(json.dumps(session))
        return session

    first = watch(_direct(http, service), lambda s: s["phase"] in LIVE)
    assert "launching as execplanner robot of vo.access.egi.eu" in _messages(first)
    assert first["launch"]["mode"] == "robot" and first["launch"]["credential"] == "oidc-access-token"
    assert first["launch"]["identity"] == "execplanner robot of vo.access.egi.eu"
    issued = list(fed.federation.checkin.issued)
    assert issued  # an access token from the token endpoint launched it

    # the access token expires (Keystone refuses it from then on): the next launch refreshes first
    wait_for(lambda: fed.federation.oidc_user(issued[-1]) is None, timeout=10)
    second = watch(_direct(http, service), lambda s: s["phase"] in LIVE)
    assert second["phase"] in LIVE and len(fed.federation.checkin.issued) > len(issued)

    # Check-in refuses the refresh token (revoked): the next launch fails, saying why and what to do
    fed.revoke_refresh_token(refresh)
    wait_for(lambda: fed.federation.oidc_user(fed.federation.checkin.issued[-1]) is None, timeout=10)
    third = watch(_direct(http, service), lambda s: s["phase"] == "FAILED")
    reason = _messages(third)
    assert "the issuer refused to refresh the robot token (400 invalid_grant: Token is not active)" in reason
    assert "renew the robot account's refresh token" in reason
    for url in (first["href"], second["href"]):
        answers.append(http.get(url, headers={"Accept": "application/yaml"}).text)

    service.stop()
    log = "".join(service._output["stdout"] + service._output["stderr"])
    assert "launch_failed" in log and "refused to refresh" in log  # the log was captured, failure included
    stored = b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file())
    for leaked in (refresh, secret):
        assert leaked not in log
        assert leaked.encode() not in stored
        assert all(leaked not in text for text in answers)


def test_a_site_taking_only_application_credentials_launches_with_the_operators_one(
    app_factory: Any, http: requests.Session, wait_for: Any, simcloud_fresh: SimFederation, tmp_path: Path
) -> None:
    """Like CREODIAS: the site's Keystone knows no Check-in; the operator made an application credential there
    (with a local account) and names it per site in the robot file."""
    fed, site = simcloud_fresh, "IN2P3-IRES"
    catalogue = rebase(Catalogue.load(default_catalogue_path()), CANONICAL_SIM_URL, fed.base_url)
    catalogue.sites = [s for s in catalogue.sites if s.name == site]  # the offer is at that site
    path = tmp_path / "catalogue.yaml"
    catalogue.save(path)
    operator = openstack.connect(
        auth_type="password",
        auth_url=fed.site(site).auth_url,
        username="sim-operator",
        password="sim-operator-password",
        user_domain_name="Default",
        project_id=fed.site(site).vos[VO],
        load_yaml_config=False,
        load_envvars=False,
    )
    made = operator.identity.create_application_credential(user=operator.current_user_id, name="execplanner-robot")
    fed.set_oidc_federation(site, False)
    with pytest.raises(REFUSED):  # a Check-in token is no use there
        list(connect(fed, site).compute.servers())

    robot = _robot_file(
        tmp_path,
        {VO: {"sites": {site: {"application_credential_id": made.id, "application_credential_secret": made.secret}}}},
    )
    data = tmp_path / "data"
    service = app_factory(
        data_dir=data,
        EXECPLANNER_CLOUD="egi",
        EXECPLANNER_CATALOGUE=str(path),
        EXECPLANNER_ROBOT_CREDENTIALS=str(robot),
        **FAST,
    )
    url = _direct(http, service)
    session = _until(wait_for, http, url, JSON, lambda s: s["phase"] in LIVE)
    assert session["placement"]["site"] == site
    assert f"launching as robot application credential {made.id} for {VO} at {site}" in _messages(session)
    assert len(fed.state(site).servers) == 1
    launch = _launch_in_every_format(http, url, JSON)[0]
    assert launch == {
        "mode": "robot",
        "identity": f"robot application credential {made.id} for {VO} at {site}",
        "site": site,
        "project": fed.site(site).vos[VO],
        "credential": "application-credential",
        "credential_id": made.id,
    }
    # the 2026 dialect carries it too
    document = yaml.safe_load((EXAMPLES / "oligia-webtop.yaml").read_text())
    document.pop("schedule", None)
    answer = http.post(service.url("/direct"), json={**document, "vo": VO}, headers=JSON, allow_redirects=False)
    assert answer.status_code == 303, answer.text
    newer = answer.headers["location"]
    _until(wait_for, http, newer, JSON, lambda s: s["phase"] in LIVE)
    assert _launch_in_every_format(http, newer, JSON)[0]["mode"] == "robot"
    assert _cancel(http, newer, JSON)["phase"] == "CANCELLED"

    assert _cancel(http, url, JSON)["phase"] == "CANCELLED"
    done = _until(wait_for, http, url, JSON, lambda s: "cleanup: deleted server" in _messages(s))
    assert fed.state(site).servers == [] and fed.state(site).floating_ips == []
    assert [c.id for c in fed.state(site).app_credentials] == [made.id]  # the operator's: kept, it is theirs
    assert made.secret not in json.dumps(done)
    assert all(made.secret.encode() not in p.read_bytes() for p in data.rglob("*") if p.is_file())

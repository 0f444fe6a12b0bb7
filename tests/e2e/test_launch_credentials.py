"""Launch credentials end to end: a real service launching on a simulated federation of its own (`--cloud egi`)
with the real openstacksdk over HTTP, callers' tokens checked against a fake Check-in (tests/auth/fake_idp.py).

Per-user mode: Keystone will not let the session's restricted application credential delete itself, so the
owner's own token deletes it when they cancel. Robot mode: a refresh token and client refreshed at the simulated
Check-in's token endpoint, and application credentials at sites that take nothing else."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import requests

from execplanner.catalogue import Catalogue, default_catalogue_path
from execplanner.cloud.sealing import new_key
from execplanner.simcloud import SimFederation, entitlement
from execplanner.simcloud.default_catalogue import CANONICAL_SIM_URL, rebase

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

    assert _cancel(http, url, alice)["phase"] == "CANCELLED"
    done = _until(wait_for, http, url, alice, lambda s: "deleted with your token" in _messages(s))
    assert f"application credential {credential.id} was not deleted" in _messages(done)  # Keystone refused it
    assert simcloud_fresh.state(site).app_credentials == [] and simcloud_fresh.state(site).servers == []

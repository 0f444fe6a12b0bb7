"""The operator's robot credentials file and the refreshing token, against the simulated Check-in's token
endpoint over HTTP: what is refused says why, and never shows a secret."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import yaml

from execplanner.auth.refresh import RefreshingToken
from execplanner.errors import CloudError, ExecPlannerError, TransientCloudError
from execplanner.lifecycle.credentials import robot_from_file
from execplanner.simcloud import SimFederation, entitlement

VO = "vo.access.egi.eu"


def _write(tmp_path: Path, document: dict) -> Path:
    path = tmp_path / "robot.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize(
    ("entry", "named"),
    [
        ({"refresh_token": "rt-SECRET", "client_id": "c"}, "token_endpoint"),
        ({"refresh_token": "rt-SECRET", "token_endpoint": "http://127.0.0.1:1/token"}, "client_id"),
        ({"sites": {"CREODIAS": {"application_credential_id": "id"}}}, "application_credential_secret"),
    ],
)
def test_an_incomplete_entry_names_the_missing_key_never_a_value(tmp_path: Path, entry: dict, named: str) -> None:
    with pytest.raises(ExecPlannerError) as refused:
        robot_from_file(_write(tmp_path, {VO: entry}))
    assert named in refused.value.message and "SECRET" not in refused.value.message


def test_names_and_per_site_application_credentials(tmp_path: Path) -> None:
    robot = robot_from_file(
        _write(
            tmp_path,
            {
                VO: {
                    "name": "our robot",
                    "access_token": "at",
                    "sites": {"CREODIAS": {"application_credential_id": "ac", "application_credential_secret": "s"}},
                }
            },
        )
    )
    assert robot.for_site(VO, "IFCA-LCG2")[1] == "our robot"  # type: ignore[index]
    assert robot.for_site(VO, "CREODIAS")[1] == f"robot application credential ac for {VO} at CREODIAS"  # type: ignore[index]
    assert robot.for_site("vo.other", "CREODIAS") is None


def test_refreshing_token_caches_then_refreshes_and_reports_refusals(simcloud_fresh: SimFederation) -> None:
    fed = simcloud_fresh
    refresh, secret = "rt-" + secrets.token_urlsafe(16), "cs-" + secrets.token_urlsafe(16)
    fed.add_refresh_token(refresh, "robot-client", secret, [entitlement(VO)], access_ttl=600)
    source = RefreshingToken(fed.token_endpoint, "robot-client", refresh, secret)
    first = source()
    assert source() == first and source.refreshes == 1  # still fresh: no second call to the issuer
    assert fed.federation.oidc_user(first) is not None

    wrong = RefreshingToken(fed.token_endpoint, "robot-client", refresh, "not-the-secret")
    with pytest.raises(CloudError) as refused:
        wrong()
    assert "401 unauthorized_client" in refused.value.message and "not-the-secret" not in refused.value.message

    fed.revoke_refresh_token(refresh)
    again = RefreshingToken(fed.token_endpoint, "robot-client", refresh, secret)
    with pytest.raises(CloudError) as revoked:
        again()
    assert "400 invalid_grant: Token is not active" in revoked.value.message
    assert refresh not in revoked.value.message and secret not in revoked.value.message


def test_an_issuer_that_is_down_is_a_transient_error() -> None:
    source = RefreshingToken("http://127.0.0.1:9/token", "robot-client", "rt", "cs")  # discard port: refused
    with pytest.raises(TransientCloudError):
        source()

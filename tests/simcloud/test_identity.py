"""Keystone as EGI runs it, driven through openstacksdk/keystoneauth exactly as users do."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import openstack
import pytest
import requests
from keystoneauth1 import session as ks_session
from keystoneauth1.identity.v3 import OidcAccessToken

from execplanner.simcloud import SimFederation, entitlement
from execplanner.simcloud.connect import connect
from execplanner.simcloud.spec import load_federation

from .refusals import REFUSED, http_status

ACCESS = "vo.access.egi.eu"


def _projects_for(fed: SimFederation, site: str, token: str) -> list[str]:
    """What `fedcloud openstack --site X token list-projects` shows: the unscoped token's projects."""
    auth = OidcAccessToken(fed.site(site).auth_url, "egi.eu", "openid", access_token=token)
    sess = ks_session.Session(auth=auth)
    answer = sess.get(fed.site(site).auth_url + "/auth/projects").json()
    return [p["id"] for p in answer["projects"]]


def test_oidc_token_gives_project_scoped_access_to_compute(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "IFCA-LCG2")
    names = {f.name for f in conn.compute.flavors()}
    assert {"cm4.small", "g1.gpu-v100"} <= names
    assert conn.current_project_id == simcloud.site("IFCA-LCG2").vos[ACCESS]


def test_demo_user_sees_the_project_of_every_vo_the_site_supports(simcloud: SimFederation) -> None:
    projects = _projects_for(simcloud, "IN2P3-IRES", simcloud.demo_token)
    assert sorted(projects) == sorted(simcloud.site("IN2P3-IRES").vos.values())


def test_member_without_vm_operator_gets_no_projects(simcloud: SimFederation) -> None:
    assert _projects_for(simcloud, "IFCA-LCG2", "sim-token-access-member") == []


def test_operator_of_one_vo_cannot_scope_to_another(simcloud: SimFederation) -> None:
    conn = connect(simcloud, "IFCA-LCG2", vo="dteam", token="sim-token-access-operator")
    with pytest.raises(REFUSED) as caught:
        list(conn.compute.flavors())
    assert http_status(caught.value) == 401


@pytest.mark.parametrize("token", ["no-such-token", "sim-token-expired"])
def test_unknown_or_expired_access_token_is_refused_with_401(simcloud: SimFederation, token: str) -> None:
    conn = connect(simcloud, "IFCA-LCG2", token=token)
    with pytest.raises(REFUSED) as caught:
        list(conn.compute.flavors())
    assert http_status(caught.value) == 401


def test_site_without_vo_access_has_no_project_for_it(simcloud: SimFederation) -> None:
    assert ACCESS not in simcloud.site("CESGA-CLOUD").vos
    assert _projects_for(simcloud, "CESGA-CLOUD", "sim-token-access-operator") == []
    conn = connect(simcloud, "CESGA-CLOUD", vo=ACCESS)
    with pytest.raises(REFUSED) as caught:
        list(conn.compute.flavors())
    assert http_status(caught.value) == 401


def test_tokens_registered_at_run_time_work(simcloud: SimFederation) -> None:
    simcloud.add_token("runtime-escape", [entitlement("vo.escape.eu")])
    conn = connect(simcloud, "CESGA-CLOUD", vo="vo.escape.eu", token="runtime-escape")
    assert {f.name for f in conn.compute.flavors()} >= {"small", "hpc.64core"}


def test_keystone_tokens_expire() -> None:
    spec = load_federation()
    for site in spec.sites:
        site.token_ttl = 0.3
    with SimFederation.start(spec=spec) as fed:
        url = fed.site("IFCA-LCG2").auth_url
        answer = requests.post(
            f"{url}/OS-FEDERATION/identity_providers/egi.eu/protocols/openid/auth",
            headers={"Authorization": f"Bearer {fed.demo_token}"},
            timeout=5,
        )
        assert answer.status_code == 201
        keystone_token = answer.headers["X-Subject-Token"]
        projects = requests.get(f"{url}/auth/projects", headers={"X-Auth-Token": keystone_token}, timeout=5)
        assert projects.status_code == 200
        deadline = time.monotonic() + 5
        status = 200
        while status == 200 and time.monotonic() < deadline:
            status = requests.get(
                f"{url}/auth/projects", headers={"X-Auth-Token": keystone_token}, timeout=5
            ).status_code
        assert status == 401


def test_password_user_can_scope_to_its_vo_project(simcloud: SimFederation) -> None:
    site = simcloud.site("IN2P3-IRES")
    conn = openstack.connect(
        auth_type="password",
        auth_url=site.auth_url,
        username="sim-operator",
        password="sim-operator-password",
        user_domain_name="Default",
        project_id=site.vos[ACCESS],
        load_yaml_config=False,
        load_envvars=False,
    )
    assert "m1.large" in {f.name for f in conn.compute.flavors()}
    bad = openstack.connect(
        auth_type="password",
        auth_url=site.auth_url,
        username="sim-operator",
        password="wrong",
        user_domain_name="Default",
        project_id=site.vos[ACCESS],
        load_yaml_config=False,
        load_envvars=False,
    )
    with pytest.raises(REFUSED) as caught:
        list(bad.compute.flavors())
    assert http_status(caught.value) == 401


def test_application_credentials_outlive_the_users_token(simcloud_fresh: SimFederation) -> None:
    fed = simcloud_fresh
    conn = connect(fed, "NCG-INGRID-PT")
    fed.set_response_delay("NCG-INGRID-PT", 0.0)
    user_id = conn.current_user_id
    cred = conn.identity.create_application_credential(user=user_id, name="execplanner-launcher")
    assert cred.secret
    assert [c.name for c in conn.identity.application_credentials(user=user_id)] == ["execplanner-launcher"]
    site = fed.site("NCG-INGRID-PT")
    launcher = openstack.connect(
        auth_type="v3applicationcredential",
        auth_url=site.auth_url,
        application_credential_id=cred.id,
        application_credential_secret=cred.secret,
        load_yaml_config=False,
        load_envvars=False,
    )
    assert list(launcher.compute.servers()) == []
    assert launcher.current_project_id == site.vos[ACCESS]
    assert [c.name for c in fed.state("NCG-INGRID-PT").app_credentials] == ["execplanner-launcher"]

    conn.identity.delete_application_credential(user_id, cred.id)
    assert fed.state("NCG-INGRID-PT").app_credentials == []
    again = openstack.connect(
        auth_type="v3applicationcredential",
        auth_url=site.auth_url,
        application_credential_id=cred.id,
        application_credential_secret=cred.secret,
        load_yaml_config=False,
        load_envvars=False,
    )
    with pytest.raises(REFUSED) as caught:
        list(again.compute.servers())
    assert http_status(caught.value) == 401


def _launcher(fed: SimFederation, site: str, cred_id: str, secret: str) -> openstack.connection.Connection:
    return openstack.connect(
        auth_type="v3applicationcredential",
        auth_url=fed.site(site).auth_url,
        application_credential_id=cred_id,
        application_credential_secret=secret,
        load_yaml_config=False,
        load_envvars=False,
    )


def test_a_restricted_application_credential_may_not_delete_itself_as_keystone_refuses(
    simcloud_fresh: SimFederation,
) -> None:
    """keystone/api/users.py: deleting (or creating) an application credential with a token obtained from a
    restricted one is a 403, itself included; its owner's own token deletes it."""
    fed, site = simcloud_fresh, "NCG-INGRID-PT"
    fed.set_response_delay(site, 0.0)  # its 0.6 s a call is not what this is about
    owner = connect(fed, site)
    user_id = owner.current_user_id
    cred = owner.identity.create_application_credential(user=user_id, name="restricted", unrestricted=False)
    launcher = _launcher(fed, site, cred.id, cred.secret)
    assert [c.id for c in launcher.identity.application_credentials(user=user_id)] == [cred.id]  # reading is allowed
    with pytest.raises(REFUSED) as caught:
        launcher.identity.delete_application_credential(user_id, cred.id)
    assert http_status(caught.value) == 403
    assert "not allowed for managing additional application credentials" in str(caught.value)
    with pytest.raises(REFUSED):
        launcher.identity.create_application_credential(user=user_id, name="another")
    assert [c.id for c in fed.state(site).app_credentials] == [cred.id]

    owner.identity.delete_application_credential(user_id, cred.id)
    assert fed.state(site).app_credentials == []


def test_an_unrestricted_application_credential_may_delete_itself(simcloud_fresh: SimFederation) -> None:
    fed, site = simcloud_fresh, "NCG-INGRID-PT"
    fed.set_response_delay(site, 0.0)
    owner = connect(fed, site)
    user_id = owner.current_user_id
    cred = owner.identity.create_application_credential(user=user_id, name="unrestricted", unrestricted=True)
    _launcher(fed, site, cred.id, cred.secret).identity.delete_application_credential(user_id, cred.id)
    assert fed.state(site).app_credentials == []


def test_an_application_credential_is_refused_once_it_has_expired(simcloud_fresh: SimFederation) -> None:
    fed, site = simcloud_fresh, "NCG-INGRID-PT"
    fed.set_response_delay(site, 0.0)
    owner = connect(fed, site)
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    cred = owner.identity.create_application_credential(
        user=owner.current_user_id, name="short", expires_at=expires.strftime("%Y-%m-%dT%H:%M:%S")
    )
    assert list(_launcher(fed, site, cred.id, cred.secret).compute.servers()) == []
    while datetime.now(UTC) < expires:  # a deadline, not a synchronisation: the credential expires by the clock
        time.sleep(0.1)
    with pytest.raises(REFUSED) as caught:
        list(_launcher(fed, site, cred.id, cred.secret).compute.servers())
    assert http_status(caught.value) == 401

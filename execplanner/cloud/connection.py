"""One openstacksdk connection per (site, project), authenticated the EGI way or with an application credential.

EGI FedCloud sites federate Keystone with Check-in: an OIDC access token goes to the `egi.eu` identity provider
over the `openid` protocol (`v3oidcaccesstoken`). Sites that take only application credentials (and launches
that happen after the user's token has expired) use `v3applicationcredential`. Either way the connection is
scoped to the VO's project at that site, and never reads clouds.yaml or OS_* variables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from execplanner.cloud._errors import tag_site

EGI_IDENTITY_PROVIDER = "egi.eu"
EGI_PROTOCOL = "openid"


@dataclass(frozen=True)
class SiteProject:
    """Where to connect: a site's Keystone and the VO's project there (from the catalogue)."""

    site: str
    auth_url: str
    project_id: str
    identity_provider: str = EGI_IDENTITY_PROVIDER
    protocol: str = EGI_PROTOCOL


@dataclass(frozen=True)
class OidcToken:
    """A Check-in access token (the user's, or the robot account's freshly refreshed one)."""

    access_token: str = field(repr=False)


@dataclass(frozen=True)
class ApplicationCredential:
    """A Keystone application credential: an id and its secret (never logged, never stored in clear)."""

    id: str
    secret: str = field(repr=False)


Credential = OidcToken | ApplicationCredential


def auth_options(target: SiteProject, credential: Credential) -> dict[str, Any]:
    """keystoneauth options for this credential at this site."""
    if isinstance(credential, ApplicationCredential):
        return {
            "auth_type": "v3applicationcredential",
            "auth_url": target.auth_url,
            "application_credential_id": credential.id,
            "application_credential_secret": credential.secret,
        }
    return {
        "auth_type": "v3oidcaccesstoken",
        "auth_url": target.auth_url,
        "identity_provider": target.identity_provider,
        "protocol": target.protocol,
        "access_token": credential.access_token,
        "project_id": target.project_id,
    }


def connect(target: SiteProject, credential: Credential, timeout: float = 30.0) -> Any:
    """An `openstack.connection.Connection` for the VO's project at the site (nothing is called yet)."""
    import openstack  # heavy: imported when the first launch needs it

    conn = openstack.connect(
        **auth_options(target, credential),
        load_yaml_config=False,
        load_envvars=False,
        api_timeout=timeout,
        timeout=timeout,
    )
    return tag_site(conn, target.site)  # its calls are counted by site (execplanner_cloud_calls_total)


def authenticate(conn: Any, site: str) -> None:
    """Get the connection's token now, so that Keystone's refusal or outage is reported as such (and a 5xx or a
    timeout as worth retrying), not as the failure of whichever call happened to come first."""
    from execplanner.cloud._errors import calling

    with calling(conn, "authenticate", f"authenticating at {site}"):
        conn.session.get_token()  # not conn.authorize(): it turns every failure into a bare SDKException

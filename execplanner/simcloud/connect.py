"""Open an openstacksdk connection to a simulated site the way EGI users do (an OIDC access token)."""

from __future__ import annotations

from typing import Any

from execplanner.simcloud.server import SimFederation


def connect(
    fed: SimFederation, site: str, vo: str = "vo.access.egi.eu", token: str | None = None, **options: Any
) -> Any:
    """An `openstack.connection.Connection` scoped to `vo`'s project at `site`, ignoring clouds.yaml and OS_*."""
    import openstack

    sim_site = fed.site(site)
    return openstack.connect(
        auth_type="v3oidcaccesstoken",
        auth_url=sim_site.auth_url,
        identity_provider=fed.spec.identity_provider,
        protocol=fed.spec.protocol,
        access_token=token or fed.demo_token,
        project_id=sim_site.vos.get(vo, "not-a-member-of-" + vo),
        load_yaml_config=False,
        load_envvars=False,
        **options,
    )

"""Site-config files in the format of EGI's fedcloud-catchall-operations (what fedcloudclient reads), pointing
at the simulated Keystone of each site."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from execplanner.simcloud.spec import FederationSpec, SiteSpec


def auth_url(base_url: str, site: str) -> str:
    return f"{base_url.rstrip('/')}/{site}/identity/v3"


def site_config(base_url: str, site: SiteSpec) -> dict[str, Any]:
    """One site's config document: gocdb, endpoint, images, vos[].auth.project_id."""
    return {
        "gocdb": site.name,
        "endpoint": auth_url(base_url, site.name),
        "images": {"sync": True, "formats": ["qcow2", "raw"]},
        "vos": [{"name": vo.name, "auth": {"project_id": vo.project_id}} for vo in site.vos],
    }


def site_config_yaml(base_url: str, site: SiteSpec) -> str:
    return "---\n" + yaml.safe_dump(site_config(base_url, site), sort_keys=False)


def write_site_configs(base_url: str, spec: FederationSpec, directory: str | Path) -> Path:
    """Write `<SITE>.yaml` for every site into `directory` (created if needed) and return it."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for site in spec.sites:
        (path / f"{site.name}.yaml").write_text(site_config_yaml(base_url, site), encoding="utf-8")
    return path

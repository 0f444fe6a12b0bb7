"""Where a build gets its sites and its token: EGI site config + an OIDC token, or a running simulator.

The simulator path writes the simulator's sites as EGI site-config files and reads them back through
fedcloudclient, so `--sim` exercises exactly the code path of a real build.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import yaml

from execplanner.catalogue.discover import Credentials, SiteTarget
from execplanner.catalogue.siteconfig import SiteConfig, read_sites
from execplanner.errors import CatalogueError

TOKEN_ENV_VARS = ("EXECPLANNER_OIDC_TOKEN", "OIDC_ACCESS_TOKEN")
EGI_SOURCE = "egi-fedcloud"


def resolve_token(token: str | None, token_file: Path | None, environ: dict[str, str] | None = None) -> Credentials:
    """--token, then --token-file, then the environment. The error never shows any token."""
    environ = dict(os.environ) if environ is None else environ
    if token:
        return Credentials(token.strip())
    if token_file is not None:
        try:
            text = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CatalogueError(f"cannot read token file {token_file}: {exc.strerror or exc}") from None
        if not text:
            raise CatalogueError(f"token file {token_file} is empty")
        return Credentials(text)
    for name in TOKEN_ENV_VARS:
        if environ.get(name, "").strip():
            return Credentials(environ[name].strip())
    raise CatalogueError(f"no OIDC access token: pass --token or --token-file, or set {' or '.join(TOKEN_ENV_VARS)}")


def targets_from_config(config: SiteConfig, only_sites: Sequence[str] = ()) -> list[SiteTarget]:
    """Site entries as discovery targets, keeping only `only_sites` when given (unknown names are an error)."""
    targets = [SiteTarget(name=s.name, endpoint=s.endpoint, vos=dict(s.vos), protocol=s.protocol) for s in config.sites]
    if not only_sites:
        return targets
    known = {t.name for t in targets}
    unknown = [s for s in only_sites if s not in known]
    if unknown:
        raise CatalogueError(f"unknown site(s) for the requested VO(s): {', '.join(unknown)}")
    return [t for t in targets if t.name in set(only_sites)]


def targets_from_sites_dir(
    sites_dir: Path, vos: Sequence[str], only_sites: Sequence[str] = ()
) -> tuple[list[SiteTarget], SiteConfig]:
    config = read_sites(sites_dir, list(vos))
    return targets_from_config(config, only_sites), config


def read_simulator(url: str, timeout: float = 10.0) -> tuple[list[dict[str, object]], str]:
    """The simulator's root document: (sites, demo token)."""
    import requests

    try:
        response = requests.get(url.rstrip("/") + "/", timeout=timeout)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise CatalogueError(f"cannot read simulator at {url}: {exc}") from None
    if not isinstance(document, dict) or not document.get("simulated") or "sites" not in document:
        raise CatalogueError(f"{url} is not a simcloud simulator (no 'simulated: true' and 'sites')")
    return list(document["sites"]), str(document.get("demo_token", ""))


def write_site_config(sites: Sequence[dict[str, object]], directory: Path) -> None:
    """Simulator sites as EGI site-config YAML files (the format fedcloudclient reads)."""
    directory.mkdir(parents=True, exist_ok=True)
    for site in sites:
        vos = _vos_of(site)
        document = {
            "gocdb": site["name"],
            "endpoint": site["auth_url"],
            "vos": [{"name": vo, "auth": {"project_id": pid}} for vo, pid in sorted(vos.items())],
        }
        (directory / f"{site['name']}.yaml").write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def sim_targets(
    url: str, vos: Sequence[str] = (), only_sites: Sequence[str] = ()
) -> tuple[list[SiteTarget], Credentials, str]:
    """Targets, demo credentials and source label for a build from a running simulator (default: all VOs)."""
    sim_sites, demo_token = read_simulator(url)
    wanted = list(vos) or sorted({vo for site in sim_sites for vo in _vos_of(site)})
    with tempfile.TemporaryDirectory(prefix="execplanner-simsites-") as tmp:
        write_site_config(sim_sites, Path(tmp))
        targets, _ = targets_from_sites_dir(Path(tmp), wanted, only_sites)
    return targets, Credentials(demo_token), f"simcloud {url.rstrip('/')}"


def _vos_of(site: dict[str, object]) -> dict[str, str]:
    vos = site.get("vos") or {}
    return {str(k): str(v) for k, v in vos.items()} if isinstance(vos, dict) else {}

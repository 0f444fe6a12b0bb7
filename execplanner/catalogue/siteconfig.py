"""EGI site configuration (which sites exist, their Keystone endpoint, the project each VO maps to), read
through fedcloudclient from a local directory. Never from GitHub: fedcloudclient's `read_site_config()`
downloads when it has nothing loaded, so every query here happens right after a successful local read,
under one lock (fedcloudclient keeps the loaded configuration in a module global).
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

from execplanner.errors import CatalogueError

_LOCK = threading.Lock()
_IMPORT_LOCK = threading.Lock()
_BAD_FILE = re.compile(r"Error during reading site config from (?P<file>.+)")


@dataclass(frozen=True)
class SiteEntry:
    """One site as the EGI configuration describes it."""

    name: str
    endpoint: str
    protocol: str = "openid"
    vos: dict[str, str] = field(default_factory=dict)  # vo -> project_id


@dataclass(frozen=True)
class SiteConfig:
    sites: list[SiteEntry]
    skipped: list[SkippedFile]


def default_sites_dir() -> Path:
    """fedcloudclient's own local directory (`fedcloud site save-config` fills it)."""
    return Path.home() / ".config" / "fedcloud" / "site-config"


@dataclass(frozen=True)
class SkippedFile:
    """A site file fedcloudclient's schema rejects: reported, and left out so the other sites still load."""

    path: Path
    reason: str


def _fedcloud_sites() -> ModuleType:
    """`fedcloudclient.sites`, imported without what fedcloudclient does to logging when it is first imported.

    Its logger module sets the root logger to DEBUG and, with no ~/.config/fedcloud/logging.conf, gives it a
    FileHandler on ~/.config/fedcloud/logs/fedcloud.log: from then on every library's debug record in this
    process (keystoneauth logs each request and answer) was formatted and appended there, about 1.7 MB per
    build of the bundled simulator. The root logger is put back as it was; execplanner's own logging settings
    decide what is logged and where.
    """
    with _IMPORT_LOCK:
        if "fedcloudclient.sites" in sys.modules:
            return sys.modules["fedcloudclient.sites"]
        root = logging.getLogger()
        level, handlers = root.level, list(root.handlers)
        try:
            from fedcloudclient import sites
        finally:
            for handler in [h for h in root.handlers if h not in handlers]:
                root.removeHandler(handler)
                handler.close()
            root.setLevel(level)
        return sites


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def _check_files(sites_dir: Path) -> tuple[list[Path], list[SkippedFile]]:
    """Validate each file with fedcloudclient's bundled schema, one by one (it stops at the first bad one)."""
    import jsonschema
    import yaml

    fedcloud_sites = _fedcloud_sites()  # lazy: importing reads fedcloud config
    schema = fedcloud_sites.read_site_schema()
    good: list[Path] = []
    skipped: list[SkippedFile] = []
    for path in sorted(sites_dir.glob("*.yaml")):
        try:
            jsonschema.validate(yaml.safe_load(path.read_text(encoding="utf-8")), schema)
        except (OSError, yaml.YAMLError, jsonschema.ValidationError) as exc:
            reason = exc.message if isinstance(exc, jsonschema.ValidationError) else str(exc)
            skipped.append(SkippedFile(path, _first_line(reason)))
        else:
            good.append(path)
    return good, skipped


def _load_into_fedcloudclient(sites_dir: Path) -> list[SkippedFile]:
    """Load the valid files into fedcloudclient; its SystemExit becomes a CatalogueError naming the file."""
    fedcloud_sites = _fedcloud_sites()

    if not sites_dir.is_dir():
        raise CatalogueError(f"site configuration directory {sites_dir} does not exist")
    good, skipped = _check_files(sites_dir)
    if not good:
        why = f"; skipped {', '.join(f'{s.path.name} ({s.reason})' for s in skipped)}" if skipped else ""
        raise CatalogueError(f"site configuration directory {sites_dir} holds no valid *.yaml files{why}")
    captured = io.StringIO()
    with tempfile.TemporaryDirectory(prefix="execplanner-sites-") as staging:
        for path in good:
            (Path(staging) / path.name).symlink_to(path.resolve())
        try:
            with contextlib.redirect_stdout(captured):
                fedcloud_sites.read_local_site_config(staging)
        except SystemExit as exc:
            match = _BAD_FILE.search(captured.getvalue())
            where = sites_dir / Path(match.group("file").strip()).name if match else sites_dir
            reason = _first_line(str(exc.code).removeprefix("Exception: "))
            raise CatalogueError(f"bad site configuration file {where}: {reason}") from None
    return skipped


def read_sites(sites_dir: Path, vos: list[str] | None = None) -> SiteConfig:
    """Sites in `sites_dir`; with `vos`, only those supporting one of them, and only those VOs."""
    fedcloud_sites = _fedcloud_sites()

    with _LOCK:
        skipped = _load_into_fedcloudclient(sites_dir)
        names = fedcloud_sites.list_sites(None)
        entries: list[SiteEntry] = []
        for name in names:
            data = fedcloud_sites.find_site_data(name) or {}
            wanted = vos if vos is not None else [v["name"] for v in data.get("vos", [])]
            mapping: dict[str, str] = {}
            for vo in wanted:
                endpoint, project_id, _ = fedcloud_sites.find_endpoint_and_project_id(name, vo)
                if endpoint and project_id:
                    mapping[vo] = project_id
            if vos is not None and not mapping:
                continue
            entries.append(
                SiteEntry(
                    name=name,
                    endpoint=data["endpoint"],
                    protocol=data.get("protocol") or "openid",
                    vos=mapping,
                )
            )
    return SiteConfig(entries, skipped)


def sites_supporting(sites_dir: Path, vo: str) -> SiteConfig:
    """The sites whose configuration maps `vo` to a project (fedcloudclient's `list_sites(vo)`)."""
    fedcloud_sites = _fedcloud_sites()

    with _LOCK:
        skipped = _load_into_fedcloudclient(sites_dir)
        entries: list[SiteEntry] = []
        for name in fedcloud_sites.list_sites(vo):
            endpoint, project_id, protocol = fedcloud_sites.find_endpoint_and_project_id(name, vo)
            if endpoint and project_id:
                entries.append(SiteEntry(name, endpoint, protocol or "openid", {vo: project_id}))
    return SiteConfig(entries, skipped)

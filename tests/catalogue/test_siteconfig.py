"""EGI site configuration through fedcloudclient, offline: bad files are named, nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from execplanner.catalogue.siteconfig import read_sites, sites_supporting
from execplanner.catalogue.sources import resolve_token, targets_from_config
from execplanner.errors import CatalogueError

GOOD = """gocdb: SITE-A
endpoint: https://keystone.a.example:5000/v3
vos:
  - name: vo.access.egi.eu
    auth: {project_id: pa}
  - name: ops
    auth: {project_id: pa-ops}
"""
OTHER = """gocdb: SITE-B
endpoint: https://keystone.b.example:5000/v3
protocol: oidc
vos:
  - name: ops
    auth: {project_id: pb-ops}
"""
BAD = """gocdb: SITE-C
endpoint: https://keystone.c.example/v3
auth: v3applicationcredential
"""


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """fedcloudclient downloads from GitHub when it has nothing loaded: make that fail loudly."""
    import fedcloudclient.sites as fedcloud_sites

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("fedcloudclient tried to download site configuration")

    monkeypatch.setattr(fedcloud_sites, "read_default_site_config", refuse)


def write(directory: Path, **files: str) -> Path:
    for name, text in files.items():
        (directory / f"{name}.yaml").write_text(text)
    return directory


def test_sites_for_a_vo_with_project_ids(tmp_path: Path) -> None:
    write(tmp_path, a=GOOD, b=OTHER)
    config = sites_supporting(tmp_path, "ops")
    assert [(s.name, s.vos, s.protocol) for s in config.sites] == [
        ("SITE-A", {"ops": "pa-ops"}, "openid"),
        ("SITE-B", {"ops": "pb-ops"}, "oidc"),
    ]
    assert [s.name for s in sites_supporting(tmp_path, "vo.access.egi.eu").sites] == ["SITE-A"]
    assert sites_supporting(tmp_path, "nobody").sites == []


def test_read_sites_keeps_only_requested_vos(tmp_path: Path) -> None:
    write(tmp_path, a=GOOD, b=OTHER)
    config = read_sites(tmp_path, ["vo.access.egi.eu"])
    assert [(s.name, s.vos) for s in config.sites] == [("SITE-A", {"vo.access.egi.eu": "pa"})]
    everything = read_sites(tmp_path)
    assert everything.sites[0].vos == {"vo.access.egi.eu": "pa", "ops": "pa-ops"}


def test_a_bad_file_is_reported_and_the_others_still_load(tmp_path: Path) -> None:
    write(tmp_path, a=GOOD, c=BAD)
    config = read_sites(tmp_path, ["ops"])
    assert [s.name for s in config.sites] == ["SITE-A"]
    assert [s.path.name for s in config.skipped] == ["c.yaml"]
    assert "auth" in config.skipped[0].reason


def test_only_bad_files_is_an_error_naming_them(tmp_path: Path) -> None:
    write(tmp_path, c=BAD)
    with pytest.raises(CatalogueError, match=r"c\.yaml"):
        read_sites(tmp_path)


@pytest.mark.parametrize("make_dir", [False, True])
def test_missing_or_empty_directory_never_downloads(tmp_path: Path, make_dir: bool) -> None:
    directory = tmp_path / "sites"
    if make_dir:
        directory.mkdir()
    with pytest.raises(CatalogueError, match="sites"):
        sites_supporting(directory, "ops")


def test_unknown_site_filter_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, a=GOOD)
    config = read_sites(tmp_path, ["ops"])
    assert [t.name for t in targets_from_config(config, ["SITE-A"])] == ["SITE-A"]
    with pytest.raises(CatalogueError, match="NOPE"):
        targets_from_config(config, ["NOPE"])


def test_token_sources_in_order_and_never_echoed(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("from-file\n")
    assert resolve_token("from-flag", token_file, {}).access_token == "from-flag"
    assert resolve_token(None, token_file, {"EXECPLANNER_OIDC_TOKEN": "env"}).access_token == "from-file"
    assert resolve_token(None, None, {"OIDC_ACCESS_TOKEN": "env2"}).access_token == "env2"
    assert "env2" not in repr(resolve_token(None, None, {"OIDC_ACCESS_TOKEN": "env2"}))
    with pytest.raises(CatalogueError, match="no OIDC access token"):
        resolve_token(None, None, {})

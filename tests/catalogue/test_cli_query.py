"""`execplanner catalogue show|sites|validate|diff|schema` as a user runs them."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from execplanner.catalogue import Catalogue
from execplanner.catalogue.model import Flavor, Image
from execplanner.cli import main

FIXTURES = Path(__file__).parent / "fixtures"
EGI_SITES = Path(__file__).resolve().parents[3] / "shared" / "egi" / "sites"  # shared/ beside the repo


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["catalogue", *args])
    return result.exit_code, result.stdout, result.stderr


def test_show_prints_every_site_and_vo() -> None:
    code, out, _ = run("show", str(FIXTURES / "two-sites.yaml"))
    assert code == 0
    assert "GPU-SITE" in out and "REFUSING-SITE" in out
    assert "auth-error" in out
    assert "public (floating-ip)" in out


def test_show_site_details() -> None:
    code, out, _ = run("show", str(FIXTURES / "two-sites.yaml"), "--site", "GPU-SITE", "--vo", "vo.access.egi.eu")
    assert code == 0
    for text in ("g1.gpu-v100", "1× NVIDIA Tesla V100", "ubuntu-22.04-docker", "router:external", "vo-private"):
        assert text in out


def test_show_unknown_site_fails_with_the_known_ones() -> None:
    code, _, err = run("show", str(FIXTURES / "two-sites.yaml"), "--site", "NOPE")
    assert code != 0
    assert "NOPE" in err and "GPU-SITE" in err


def test_validate_ok_and_failing_with_field_path() -> None:
    code, out, _ = run("validate", str(FIXTURES / "two-sites.yaml"))
    assert code == 0 and "valid" in out
    code, _, err = run("validate", str(FIXTURES / "bad-vcpus.yaml"))
    assert code != 0
    assert "bad-vcpus.yaml" in err and "$.sites[0].vos[0].flavors[1].vcpus" in err


def test_sites_for_vo_from_catalogue() -> None:
    code, out, _ = run("sites", "--vo", "vo.access.egi.eu", "--catalogue", str(FIXTURES / "two-sites.yaml"))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("GPU-SITE\tok\t")
    assert lines[1].startswith("REFUSING-SITE\tauth-error\t")


@pytest.mark.skipif(not EGI_SITES.is_dir(), reason=f"the real EGI site files are not at {EGI_SITES}")
def test_sites_for_vo_from_real_egi_site_config() -> None:
    code, out, err = run("sites", "--vo", "vo.access.egi.eu", "--sites-dir", str(EGI_SITES))
    assert code == 0
    names = [line.split("\t")[0] for line in out.splitlines()]
    assert len(names) == 13  # the README of the snapshot says so
    assert "IFCA-LCG2" in names and "CESGA-CLOUD" not in names
    assert "CREODIAS.yaml" in err  # fedcloudclient's schema rejects it: reported, not fatal


def test_diff_reports_added_removed_changed(tmp_path: Path) -> None:
    old = Catalogue.load(FIXTURES / "two-sites.yaml")
    new = old.model_copy(deep=True)
    vo = new.sites[0].vos[0]
    vo.flavors = [f for f in vo.flavors if f.name != "m1.small"]
    vo.flavors.append(Flavor(id="f9", name="m1.huge", vcpus=64, ram=262144, disk=500))
    vo.images[0] = vo.images[0].model_copy(update={"os_version": "24.04"})
    vo.images.append(Image(id="i9", name="AlmaLinux 9", os_family="linux", os_distro="almalinux", os_version="9"))
    new.sites = [new.sites[0]]
    old.save(tmp_path / "old.yaml")
    new.save(tmp_path / "new.json")
    code, out, _ = run("diff", str(tmp_path / "old.yaml"), str(tmp_path / "new.json"))
    assert code == 0
    lines = set(out.splitlines())
    assert "- site REFUSING-SITE" in lines
    assert "- flavor GPU-SITE/vo.access.egi.eu/m1.small" in lines
    assert "+ flavor GPU-SITE/vo.access.egi.eu/m1.huge" in lines
    assert "~ image GPU-SITE/vo.access.egi.eu/ubuntu-22.04-docker (os_version)" in lines
    assert "+ image GPU-SITE/vo.access.egi.eu/AlmaLinux 9" in lines
    code, _, _ = run("diff", "--exit-code", str(tmp_path / "old.yaml"), str(tmp_path / "new.json"))
    assert code == 1


def test_diff_of_identical_catalogues_says_so() -> None:
    code, out, _ = run("diff", "--exit-code", str(FIXTURES / "two-sites.yaml"), str(FIXTURES / "two-sites.yaml"))
    assert code == 0 and out.strip() == "no changes"


def test_schema_command_prints_the_committed_schema() -> None:
    code, out, _ = run("schema")
    repo = Path(__file__).resolve().parents[2]
    assert code == 0 and out == (repo / "schemas" / "catalogue.schema.json").read_text()

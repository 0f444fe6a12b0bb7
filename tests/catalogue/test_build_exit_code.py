"""`catalogue build` fails loudly when a site or VO failed: one line each, exit 3, nothing written, unless
--allow-partial."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from execplanner.catalogue.command import EXIT_SITES_FAILED
from execplanner.catalogue.model import Catalogue, SiteStatus
from execplanner.cli import main
from execplanner.simcloud import SimFederation

VO = "vo.access.egi.eu"


def _build(fed: SimFederation, out: Path, *extra: str) -> object:
    args = ["catalogue", "build", "--sim", fed.base_url, "--vo", VO, "--site", "IFCA-LCG2", "--site", "IN2P3-IRES"]
    return CliRunner().invoke(main, [*args, "-o", str(out), *extra])


def _failed_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("failed: ")]


def test_a_failed_site_exits_3_names_it_with_its_reason_and_writes_nothing(
    simcloud: SimFederation, tmp_path: Path
) -> None:
    simcloud.faults.inject("IFCA-LCG2", "compute.flavors.list", "error", status=503, times=None)
    out = tmp_path / "cat.yaml"
    result = _build(simcloud, out)
    assert result.exit_code == EXIT_SITES_FAILED == 3
    (line,) = _failed_lines(result.stderr)
    assert line.startswith("failed: IFCA-LCG2: unreachable: ") and "503" in line
    assert "1/2 site(s) ok" in result.stderr and "nothing written" in result.stderr
    assert not out.exists()
    assert "Traceback" not in result.output


def test_allow_partial_writes_the_catalogue_and_exits_0(simcloud: SimFederation, tmp_path: Path) -> None:
    simcloud.faults.inject("IFCA-LCG2", "identity.*", "error", status=503, times=None)
    out = tmp_path / "cat.yaml"
    result = _build(simcloud, out, "--allow-partial")
    assert result.exit_code == 0, result.output
    assert [line.split(":")[1].strip() for line in _failed_lines(result.stderr)] == ["IFCA-LCG2"]
    written = Catalogue.load(out)
    assert written.site("IFCA-LCG2").status is SiteStatus.UNREACHABLE
    assert written.site("IN2P3-IRES").status is SiteStatus.OK


def test_without_output_file_a_failed_build_prints_no_catalogue(simcloud: SimFederation) -> None:
    simcloud.faults.inject("IN2P3-IRES", "network.networks.list", "error", status=500, times=None)
    args = ["catalogue", "build", "--sim", simcloud.base_url, "--vo", VO, "--site", "IN2P3-IRES"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == EXIT_SITES_FAILED
    assert result.stdout == ""
    assert len(_failed_lines(result.stderr)) == 1


def test_a_failed_vo_of_a_working_site_is_a_failure_too(quiet_sim: SimFederation, tmp_path: Path) -> None:
    """A token that is vm_operator in vo.access.egi.eu only: IN2P3-IRES works for it, not for vo.escape.eu."""
    token = "sim-token-only-access-for-exit-code-test"
    quiet_sim.add_token(token, ["urn:mace:egi.eu:group:vo.access.egi.eu:role=vm_operator#aai.egi.eu"])
    sites_dir = quiet_sim.write_site_config(tmp_path / "sites")
    args = ["catalogue", "build", "--vo", VO, "--vo", "vo.escape.eu", "--site", "IN2P3-IRES"]
    args += ["--sites-dir", str(sites_dir), "--token", token, "-o", str(tmp_path / "cat.yaml")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == EXIT_SITES_FAILED
    (line,) = _failed_lines(result.stderr)
    assert line.startswith("failed: IN2P3-IRES (vo.escape.eu): auth-error: ")
    assert token not in result.output

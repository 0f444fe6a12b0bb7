"""Building against the simulated federation over real HTTP: CLI, bad tokens, broken and slow sites."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from execplanner.catalogue.build import build_catalogue
from execplanner.catalogue.discover import Credentials
from execplanner.catalogue.model import Catalogue, SiteStatus
from execplanner.catalogue.sources import sim_targets
from execplanner.cli import main
from execplanner.simcloud import SimFederation

TWO_SITES = ["IFCA-LCG2", "IN2P3-IRES"]
VO = "vo.access.egi.eu"


def _build(fed: SimFederation, token: str | None = None, timeout: float = 30) -> Catalogue:
    targets, credentials, source = sim_targets(fed.base_url, [VO], TWO_SITES)
    if token is not None:
        credentials = Credentials(token)
    return build_catalogue(targets, credentials, source, site_timeout=timeout)


def test_cli_build_from_simulator_writes_a_valid_catalogue(quiet_sim: SimFederation, tmp_path: Path) -> None:
    out = tmp_path / "cat.json"
    result = CliRunner().invoke(
        main,
        ["catalogue", "build", "--sim", quiet_sim.base_url, "--vo", VO, "--site", "IISAS-FedCloud", "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    assert "IISAS-FedCloud: ok" in result.stderr  # plain progress lines when not on a terminal
    cat = Catalogue.load(out)
    assert cat.source == f"simcloud {quiet_sim.base_url}"
    assert quiet_sim.demo_token not in out.read_text()
    (site,) = cat.sites
    assert site.vo(VO).public_network().name == "provider-1320"
    validated = CliRunner().invoke(main, ["catalogue", "validate", str(out)])
    assert validated.exit_code == 0


EGI_SITES = Path(__file__).resolve().parents[3] / "shared" / "egi" / "sites"  # shared/ beside the repo


@pytest.mark.skipif(not EGI_SITES.is_dir(), reason=f"the real EGI site files are not at {EGI_SITES}")
def test_cli_build_needs_a_token_for_real_sites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EXECPLANNER_OIDC_TOKEN", "OIDC_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(
        main,
        ["catalogue", "build", "--vo", VO, "--sites-dir", str(EGI_SITES), "-o", str(tmp_path / "c.yaml")],
    )
    assert result.exit_code != 0
    assert "no OIDC access token" in result.stderr


@pytest.mark.parametrize("token", ["sim-token-expired", "not-a-token-anyone-issued"])
def test_refused_token_is_a_per_site_auth_error_not_a_crash(simcloud: SimFederation, token: str) -> None:
    cat = _build(simcloud, token=token)
    assert [s.status for s in cat.sites] == [SiteStatus.AUTH_ERROR, SiteStatus.AUTH_ERROR]
    for site in cat.sites:
        assert site.error and token not in site.error
        assert site.vo(VO).status is SiteStatus.AUTH_ERROR


def test_site_answering_garbage_is_unreachable_and_the_other_is_fine(simcloud: SimFederation) -> None:
    # a 200 whose body is an error document, not a flavor list
    simcloud.faults.inject("IN2P3-IRES", "compute.flavors.list", "error", status=200, times=None)
    cat = _build(simcloud)
    assert cat.site("IFCA-LCG2").status is SiteStatus.OK
    broken = cat.site("IN2P3-IRES")
    assert broken.status is SiteStatus.UNREACHABLE
    assert "unexpected answer" in broken.error


def test_site_failing_with_server_errors_is_unreachable(simcloud: SimFederation) -> None:
    simcloud.faults.inject("IN2P3-IRES", "image.images.list", "error", status=502, times=None)
    cat = _build(simcloud)
    assert cat.site("IFCA-LCG2").status is SiteStatus.OK
    assert cat.site("IN2P3-IRES").status is SiteStatus.UNREACHABLE
    assert "502" in cat.site("IN2P3-IRES").error


def test_hanging_site_times_out_without_holding_the_build(simcloud: SimFederation) -> None:
    simcloud.faults.inject("IN2P3-IRES", "compute.flavors.list", "timeout", seconds=4, times=None)
    started = time.monotonic()
    cat = _build(simcloud, timeout=2)
    assert time.monotonic() - started < 6
    assert cat.site("IFCA-LCG2").status is SiteStatus.OK
    assert cat.site("IN2P3-IRES").status is SiteStatus.UNREACHABLE


def test_keystone_down_is_unreachable(simcloud: SimFederation) -> None:
    simcloud.faults.inject("IFCA-LCG2", "identity.*", "error", status=503, times=None)
    cat = _build(simcloud)
    assert cat.site("IFCA-LCG2").status is SiteStatus.UNREACHABLE
    assert cat.site("IN2P3-IRES").status is SiteStatus.OK


def test_cli_build_with_a_token_from_site_config_files_never_shows_the_token(
    quiet_sim: SimFederation, tmp_path: Path
) -> None:
    """The real path: EGI-style site files + --token-file; a user-issued token works, a refused one is reported."""
    sites_dir = quiet_sim.write_site_config(tmp_path / "sites")
    token = "sim-token-access-operator-for-this-test"
    quiet_sim.add_token(token, ["urn:mace:egi.eu:group:vo.access.egi.eu:role=vm_operator#aai.egi.eu"])
    token_file = tmp_path / "token"
    token_file.write_text(token)
    out = tmp_path / "cat.yaml"
    args = ["catalogue", "build", "--vo", VO, "--site", "IN2P3-IRES", "--sites-dir", str(sites_dir), "-o", str(out)]
    result = CliRunner().invoke(main, [*args, "--token-file", str(token_file)])
    assert result.exit_code == 0, result.output
    assert Catalogue.load(out).site("IN2P3-IRES").status is SiteStatus.OK
    assert token not in result.output + out.read_text()

    refused = CliRunner().invoke(main, [*args, "--token", "sim-token-expired", "--allow-partial"])
    assert refused.exit_code == 0  # a partial build is allowed; the site says why it could not be read
    assert "IN2P3-IRES: auth-error" in refused.stderr
    assert "sim-token-expired" not in refused.output + out.read_text()
    assert Catalogue.load(out).site("IN2P3-IRES").status is SiteStatus.AUTH_ERROR

"""The federation as a whole: discovery, fedcloudclient site configs, the data file, persistence, the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml
from click.testing import CliRunner

from execplanner.cli import main
from execplanner.simcloud import SimFederation, load_federation
from execplanner.simcloud.connect import connect

REAL_SITES = Path(__file__).resolve().parents[3] / "shared" / "egi" / "sites"


def test_discovery_lists_sites_auth_urls_and_demo_token(simcloud: SimFederation) -> None:
    answer = requests.get(simcloud.base_url + "/", timeout=5)
    assert answer.headers["X-Simulated-Cloud"] == "execplanner-simcloud"
    body = answer.json()
    assert body["simulated"] is True and body["demo_token"] == simcloud.demo_token
    ifca = next(s for s in body["sites"] if s["name"] == "IFCA-LCG2")
    assert ifca["auth_url"] == f"{simcloud.base_url}/IFCA-LCG2/identity/v3"
    assert ifca["vos"]["vo.access.egi.eu"] == "999f045cb1ff4684a15ebb338af69460"
    assert (ifca["identity_provider"], ifca["protocol"]) == ("egi.eu", "openid")


def test_every_response_says_it_is_simulated(simcloud: SimFederation) -> None:
    for path in ("/NO-SUCH-SITE/compute/v2.1/flavors", "/IFCA-LCG2/identity/v3", "/nowhere"):
        assert requests.get(simcloud.base_url + path, timeout=5).headers["X-Simulated-Cloud"] == "execplanner-simcloud"


def test_default_federation_keeps_real_project_ids_and_is_heterogeneous() -> None:
    if not REAL_SITES.is_dir():
        pytest.skip(f"the real EGI site files are not at {REAL_SITES} (shared/ beside the repository)")
    spec = load_federation()
    assert len(spec.sites) >= 6
    for site in spec.sites:
        real = next(
            yaml.safe_load(f.read_text())
            for f in REAL_SITES.glob("*.yaml")
            if yaml.safe_load(f.read_text())["gocdb"] == site.name
        )
        real_vos = {vo["name"]: vo["auth"]["project_id"] for vo in real["vos"]}
        for vo in site.vos:
            assert vo.simulated or real_vos[vo.name] == vo.project_id, (site.name, vo.name)
        assert {i.name for i in site.images} == set(site.expected["images"])
        assert {f.name for f in site.flavors} == set(site.expected["flavors"])
    modes = {s.expected["public_address"] for s in spec.sites}
    assert modes == {"floating-ip", "direct", "none"}
    assert sum("vo.escape.eu" in s.vo_projects for s in spec.sites) >= 3
    assert any("vo.access.egi.eu" not in s.vo_projects for s in spec.sites)


def test_fedcloudclient_resolves_simulated_sites(simcloud: SimFederation, tmp_path: Path) -> None:
    import fedcloudclient.sites as fc_sites

    stored = getattr(fc_sites, "__site_config_data")
    saved = list(stored)
    try:
        fc_sites.read_local_site_config(simcloud.write_site_config(tmp_path / "site-config"))
        assert set(fc_sites.list_sites("vo.escape.eu")) == {"IFCA-LCG2", "IN2P3-IRES", "CESGA-CLOUD", "NCG-INGRID-PT"}
        assert "CESGA-CLOUD" not in fc_sites.list_sites("vo.access.egi.eu")
        endpoint, project_id, _ = fc_sites.find_endpoint_and_project_id("CYFRONET-CLOUD", "vo.access.egi.eu")
        assert endpoint == simcloud.site("CYFRONET-CLOUD").auth_url
        assert project_id == "7635176e4f9b4cb4b3f4192a5bf901a3"
        assert fc_sites.find_endpoint_and_project_id("CESGA-CLOUD", "vo.access.egi.eu") == (None, None, None)
    finally:
        stored.clear()
        stored.extend(saved)
    served = yaml.safe_load(requests.get(f"{simcloud.base_url}/_sim/site-config/IISAS-FedCloud.yaml", timeout=5).text)
    assert served["endpoint"] == simcloud.site("IISAS-FedCloud").auth_url


def test_state_file_survives_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "sim-state.json"
    with SimFederation.start(state_file=state) as fed:
        conn = connect(fed, "IN2P3-IRES")
        conn.compute.create_keypair(name="kept")
        image = next(i.id for i in conn.image.images() if i.name == "ubuntu-22.04")
        conn.compute.create_server(
            name="kept-vm",
            flavor_id=conn.compute.find_flavor("m1.small", ignore_missing=False).id,
            image_id=image,
            networks=[{"uuid": next(conn.network.networks(name="int-net")).id}],
        )
    with SimFederation.start(state_file=state) as again:
        conn = connect(again, "IN2P3-IRES")
        assert [s.name for s in conn.compute.servers()] == ["kept-vm"]
        assert [k.name for k in conn.compute.keypairs()] == ["kept"]
        assert again.state("IN2P3-IRES").usage[conn.current_project_id].instances == 1


def _wait_for_line(proc: subprocess.Popen[str], needle: str, seconds: float = 15) -> str:
    deadline = time.monotonic() + seconds
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if needle in line:
            return line
    raise AssertionError(f"no line containing {needle!r}")


def test_sim_command_says_what_it_is_and_stops_on_sigterm() -> None:
    # the help is click's, the same in this process (no interpreter of its own); the command itself runs as one
    helped = CliRunner().invoke(main, ["sim", "--help"])
    assert helped.exit_code == 0, helped.output
    help_text = helped.stdout
    assert "SIMULATED" in help_text and "not a cloud" in help_text
    proc = subprocess.Popen(
        [sys.executable, "-m", "execplanner.cli", "sim", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        line = _wait_for_line(proc, "listening on")
        base = line.rsplit(" ", 1)[-1].strip()
        assert requests.get(base + "/", timeout=5).json()["simulated"] is True
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("bad", ["sites: [{name: X}]", "::: not yaml"])
def test_a_bad_federation_file_is_reported(tmp_path: Path, bad: str) -> None:
    path = tmp_path / "sites.yaml"
    path.write_text(bad)
    result = subprocess.run(
        [sys.executable, "-m", "execplanner.cli", "sim", "--sites", str(path), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode != 0 and "invalid federation file" in result.stderr

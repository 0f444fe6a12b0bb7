"""What the container image and compose file rely on: `execplanner healthcheck` follows the configured port, and
the Dockerfile and compose.yaml say what docs/operator.md promises (no docker daemon here to build them; the
install steps themselves are exercised by tests/test_packaging.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _healthcheck(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EXECPLANNER_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "execplanner.cli", "healthcheck", *args],
        capture_output=True,
        text=True,
        timeout=30,
        env=environment,
    )


def test_healthcheck_follows_the_configured_port(service_factory, tmp_path):
    server = service_factory()
    by_env = _healthcheck({"EXECPLANNER_PORT": str(server.port), "EXECPLANNER_HOST": "0.0.0.0"})
    assert by_env.returncode == 0, by_env.stderr
    assert by_env.stdout.strip() == f"http://127.0.0.1:{server.port}/healthz: ok"
    config = tmp_path / "execplanner.toml"
    config.write_text(f"[execplanner]\nport = {server.port}\n")
    assert _healthcheck({"EXECPLANNER_CONFIG": str(config)}).returncode == 0
    server.stop()
    down = _healthcheck({"EXECPLANNER_PORT": str(server.port)})
    assert down.returncode == 1 and "Connection refused" in down.stderr and len(down.stderr.splitlines()) == 1


def test_the_dockerfile_is_multi_stage_pinned_and_unprivileged():
    text = (ROOT / "Dockerfile").read_text()
    image = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert image and re.fullmatch(r"python:\d+\.\d+\.\d+-slim-\w+@sha256:[0-9a-f]{64}", image.group(1))
    assert re.findall(r"^FROM (\S+)", text, re.MULTILINE) == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    assert re.search(r"^USER 10001:10001$", text, re.MULTILINE)
    assert re.search(r'^HEALTHCHECK .* CMD \["execplanner", "healthcheck"\]$', text, re.MULTILINE)
    assert "EXECPLANNER_SCHEMA_DIR" not in text  # the schemas ship in the package


def test_compose_runs_the_service_with_postgresql_and_the_simulator_for_a_demo():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    services = compose["services"]
    service = services["execplanner"]
    assert service["depends_on"]["db"]["condition"] == "service_healthy"
    assert service["environment"]["EXECPLANNER_DATABASE"].startswith("postgresql+psycopg://execplanner:")
    assert services["db"]["image"].startswith("postgres:")
    assert services["sim"]["profiles"] == ["demo"] and "sim" in services["sim"]["command"]
    assert "--sim" in services["catalogue-from-sim"]["command"]

"""`execplanner describe PATH [--yaml]`, run as a user would run it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml
from click.testing import CliRunner

from execplanner.cli import main


def test_describe_prints_json(fixtures: Path) -> None:
    result = CliRunner().invoke(main, ["describe", str(fixtures / "cwl/sofia-source-finder.cwl")])
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["kind"] == "cwl-tool"
    assert document["compute"]["cores_min"] == {
        "value": 8,
        "source": "declared",
        "confidence": 0.95,
        "note": "requirements coresMin",
    }
    assert document["compute"]["memory_min_gib"] == 16
    assert document["disk_min_gib"] == 30


def test_describe_prints_yaml(fixtures: Path) -> None:
    result = CliRunner().invoke(main, ["describe", "--yaml", str(fixtures / "workflows/hi-friends-sofia")])
    assert result.exit_code == 0, result.output
    document = yaml.safe_load(result.output)
    assert document["kind"] == "snakemake-workflow"
    assert document["compute"]["cores_min"]["value"] == 32


def test_describe_with_kind_reads_file_as_that_kind(fixtures: Path, tmp_path: Path) -> None:
    odd = tmp_path / "desktop.txt"
    odd.write_bytes((fixtures / "compose/oligia-webtop-desktop.yml").read_bytes())
    result = CliRunner().invoke(main, ["describe", "--kind", "docker-compose", str(odd)])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["network"]["ports"][0]["port"] == 3000


def test_describe_bad_input_is_an_error_message_not_a_traceback(fixtures: Path) -> None:
    process = subprocess.run(
        [sys.executable, "-m", "execplanner.cli", "describe", str(fixtures / "bad/lfs-pointer.ipynb")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert process.returncode == 1
    assert process.stdout == ""
    assert "Error: lfs-pointer.ipynb is a Git LFS pointer" in process.stderr
    assert "Traceback" not in process.stderr

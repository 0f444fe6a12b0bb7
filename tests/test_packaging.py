"""`pip install` of the wheel, in a clean virtual environment outside the repository, starts and serves with no
environment variable: the schemas (the XSD incoming XML is checked against), the bundled catalogue, the OpenAPI
document and the migrations all ship inside the package.

The wheel is built from a copy of the sources (so the checkout stays untouched) with this environment's pip and
setuptools; the new environment has no pip of its own and sees nothing of this one: this pip installs into it
(`pip --python`), resolving the dependencies through the index and pip's cache. `--no-compile` keeps it quick."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "execplanner", "schemas")

pytestmark = pytest.mark.slow


def _pip(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=600, cwd=cwd, check=False
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin/ directory of a fresh virtual environment holding the wheel built from this checkout."""
    work = tmp_path_factory.mktemp("packaging")
    source = work / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        origin = ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(origin, source / name)
    built = _pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(work / "dist"), str(source), cwd=work)
    assert built.returncode == 0, built.stderr
    quiet_build = [line for line in built.stderr.splitlines() if "deprecat" in line.lower()]
    assert not quiet_build, "building the wheel warns: " + "\n".join(quiet_build)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(work / "venv")], check=True, timeout=120)
    wheel = next((work / "dist").glob("execplanner-*.whl"))
    python = work / "venv" / "bin" / "python"
    done = _pip("--python", str(python), "install", "-q", "--no-compile", str(wheel), cwd=work)
    assert done.returncode == 0, done.stderr
    return work / "venv" / "bin"


def test_the_wheel_holds_every_data_file(installed: Path):
    import zipfile

    wheel = next(installed.parents[1].glob("dist/execplanner-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for schema in (ROOT / "schemas").iterdir():
        assert f"execplanner/schemas/{schema.name}" in names, schema.name
    for data in ROOT.joinpath("execplanner").rglob("*"):
        relative = data.relative_to(ROOT).as_posix()
        if data.is_file() and "__pycache__" not in relative and not relative.startswith("execplanner/schemas/"):
            assert relative in names, f"{relative} is not in the wheel"


def test_the_installed_service_starts_and_serves_with_no_environment(installed: Path, tmp_path: Path):
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("EXECPLANNER_", "PYTHON", "VIRTUAL_ENV")) and key != "PATH"
    }
    environment.update({"PATH": f"{installed}{os.pathsep}/usr/bin:/bin", "HOME": str(tmp_path)})
    process = subprocess.Popen(
        [str(installed / "execplanner"), "serve", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,  # outside the repository: nothing found by a relative path
        env=environment,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on" in line, line + (process.stderr.read() if process.poll() is not None else "")
        base = line.strip().split("listening on ", 1)[1]
        xml = (ROOT / "examples" / "requests" / "jupyter-notebook.xml").read_bytes()  # checked against the XSD
        asked = requests.post(
            f"{base}/offersets", data=xml, headers={"Content-Type": "application/xml"}, allow_redirects=False
        )
        assert asked.status_code == 303, asked.text
        offerset = requests.get(asked.headers["Location"], headers={"Accept": "application/json"}).json()
        assert offerset["result"] == "YES", offerset
        assert requests.get(f"{base}/openapi.yaml").status_code == 200
        assert requests.get(f"{base}/catalogue", headers={"Accept": "application/json"}).json()["sites"]
        assert (tmp_path / ".local" / "share" / "execplanner" / "execplanner.sqlite").exists()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()


def test_the_installed_commands_answer(installed: Path):
    version = subprocess.run([str(installed / "execplanner"), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and version.stdout.startswith("execplanner, version ")

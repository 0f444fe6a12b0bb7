"""What stops `execplanner serve` from starting is one line on stderr and an exit code of its own.

Each case starts a real `execplanner serve` process and reads what an operator would read (docs/configuration.md
lists the codes)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from execplanner.errors import CatalogueError, ConfigError, ListenError
from execplanner.store.database import StoreError


def _serve(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("EXECPLANNER_")}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "execplanner.cli", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environment,
        cwd=cwd,
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The error an operator reads: exactly one line saying so, and no traceback anywhere."""
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    assert result.stdout == "", result.stdout
    return errors[0]


@pytest.fixture
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_port_in_use_is_one_line(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _serve("--port", str(port), "--data-dir", str(tmp_path))
    assert result.returncode == ListenError.exit_code == 71
    assert _one_error_line(result) == f"Error: cannot listen on 127.0.0.1:{port}: the port is in use"


def test_an_unreachable_database_is_one_line(tmp_path: Path, free_port: int):
    # nothing listens on a port we just freed: the connection is refused
    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port}/execplanner"
    result = _serve("--port", "0", "--database", url)
    assert result.returncode == StoreError.exit_code == 69
    line = _one_error_line(result)
    assert line.startswith(f"Error: cannot open database {url}:") and "refused" in line


def test_a_database_url_of_an_unknown_kind_is_one_line(tmp_path: Path):
    result = _serve("--port", "0", "--database", "mongodb://db.example.org/execplanner")
    assert result.returncode == 69
    assert "mongodb" in _one_error_line(result)


@pytest.mark.postgres
def test_a_database_that_refuses_the_user_is_one_line(postgres_url_fresh: str):
    url = postgres_url_fresh.replace("//postgres@", "//no_such_role@")
    result = _serve("--port", "0", "--database", url)
    assert result.returncode == 69
    assert 'role "no_such_role" does not exist' in _one_error_line(result)


def test_a_database_password_never_shows(tmp_path: Path, free_port: int):
    result = _serve("--port", "0", "--database", f"postgresql+psycopg://u:s3cret@127.0.0.1:{free_port}/x")
    assert result.returncode == 69
    assert "s3cret" not in result.stderr and "***" in _one_error_line(result)


@pytest.mark.parametrize(
    ("content", "expected"),
    [(None, "No such file or directory"), ("sites: [", "catalogue"), ("sites: 3\n", "invalid catalogue")],
    ids=["missing", "not-yaml", "not-a-catalogue"],
)
def test_an_unreadable_catalogue_is_one_line(tmp_path: Path, content: str | None, expected: str):
    path = tmp_path / "catalogue.yaml"
    if content is not None:
        path.write_text(content)
    result = _serve("--port", "0", "--data-dir", str(tmp_path), "--catalogue", str(path))
    assert result.returncode == CatalogueError.exit_code == 66
    line = _one_error_line(result)
    assert str(path) in line and expected in line


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "cannot read config file"),
        ('port = "8080', "cannot read config file"),
        ("port = 99999\n", "port: Input should be less than or equal to 65535"),
        ("prot = 8080\n", "prot: Extra inputs are not permitted"),
        ('admin_tokn = "s3cret"\n', "admin_tokn"),
    ],
    ids=["missing", "not-toml", "out-of-range", "unknown-key", "secret-never-echoed"],
)
def test_a_bad_config_file_is_one_line(tmp_path: Path, content: str | None, expected: str):
    path = tmp_path / "execplanner.toml"
    if content is not None:
        path.write_text(content)
    result = _serve("--config", str(path))
    assert result.returncode == ConfigError.exit_code == 78
    assert expected in _one_error_line(result)
    assert "s3cret" not in result.stderr


def test_a_bad_environment_variable_is_one_line():
    result = _serve(env={"EXECPLANNER_PORT": "eighty"})
    assert result.returncode == 78
    assert _one_error_line(result) == (
        "Error: invalid settings: port: Input should be a valid integer, unable to parse string as an integer"
        " (got 'eighty')"
    )


def test_the_exit_codes_are_distinct():
    codes = [ConfigError.exit_code, StoreError.exit_code, CatalogueError.exit_code, ListenError.exit_code]
    assert len(set(codes)) == len(codes) and 0 not in codes and 1 not in codes and 2 not in codes

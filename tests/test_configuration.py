"""Settings come from defaults, TOML, environment and flags, in that order; every one is documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from execplanner.config import Settings, load_settings
from execplanner.errors import ExecPlannerError

DOC = (Path(__file__).resolve().parents[1] / "docs" / "configuration.md").read_text()


def test_every_setting_is_documented():
    for name in Settings.model_fields:
        assert f"`EXECPLANNER_{name.upper()}`" in DOC, name


def test_layers_in_priority_order(tmp_path):
    toml = tmp_path / "execplanner.toml"
    toml.write_text('[execplanner]\nport = 9000\nhost = "0.0.0.0"\nmax_offers = 3\n')
    settings = load_settings(
        {"port": 9100, "host": None},
        config_file=toml,
        environ={"EXECPLANNER_MAX_OFFERS": "6", "EXECPLANNER_PORT": "9050"},
    )
    assert settings.port == 9100  # flag beats env beats file
    assert settings.max_offers == 6  # env beats file
    assert settings.host == "0.0.0.0"  # file beats default


def test_database_defaults_to_sqlite_in_data_dir(tmp_path):
    settings = load_settings({"data_dir": tmp_path}, environ={})
    assert settings.database_url == f"sqlite:///{tmp_path / 'execplanner.sqlite'}"


def test_config_file_from_environment(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("offer_expiry_seconds = 42\n")
    assert load_settings(environ={"EXECPLANNER_CONFIG": str(toml)}).offer_expiry_seconds == 42


@pytest.mark.parametrize("environ", [{"EXECPLANNER_PORT": "eighty"}, {"EXECPLANNER_MAX_BODY_BYTES": "-1"}])
def test_bad_values_are_clear_errors(environ):
    with pytest.raises(ExecPlannerError, match="invalid settings"):
        load_settings(environ=environ)


def test_unknown_toml_key_is_refused(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("prot = 1\n")
    with pytest.raises(ExecPlannerError):
        load_settings(config_file=toml, environ={})


def test_allowed_hosts_default_to_listen_address_loopback_and_base_url():
    settings = load_settings(
        environ={"EXECPLANNER_HOST": "fd00::5", "EXECPLANNER_BASE_URL": "https://eb.example.org/x"}
    )
    assert settings.hosts == ["[fd00::5]", "localhost", "127.0.0.1", "[::1]", "eb.example.org"]
    given = load_settings(environ={"EXECPLANNER_ALLOWED_HOSTS": "a.example, *.b.example"})
    assert given.hosts == ["a.example", "*.b.example"]
    assert load_settings(environ={"EXECPLANNER_TRUSTED_PROXIES": "10.0.0.1,10.1.0.0/16"}).trusted_proxies == [
        "10.0.0.1",
        "10.1.0.0/16",
    ]


def test_cloud_poll_max_reaches_the_launch_driver():
    from execplanner.lifecycle.wiring import LaunchWiring

    assert load_settings(environ={}).cloud_poll_max == 0.5
    settings = load_settings(environ={"EXECPLANNER_CLOUD_POLL_MAX": "2"})
    assert LaunchWiring(settings, lambda: None, None).driver_settings().poll_max == 2.0  # type: ignore[arg-type]
    with pytest.raises(ExecPlannerError, match="invalid settings"):
        load_settings(environ={"EXECPLANNER_CLOUD_POLL_MAX": "0"})

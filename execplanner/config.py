"""One settings object, fed by (in rising priority) defaults, a TOML file, `EXECPLANNER_*` env vars and CLI flags.

Every field is documented from itself: `execplanner serve --help` and docs/configuration.md list them.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from execplanner.errors import ConfigError

ENV_PREFIX = "EXECPLANNER_"


def default_data_dir() -> Path:
    """A per-user data directory, following XDG on Linux."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "execplanner"


class Settings(BaseModel):
    """Everything an operator can set. Names map to `EXECPLANNER_<NAME>` and to TOML keys."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port to listen on (0 picks a free one).")
    data_dir: Path = Field(default_factory=default_data_dir, description="Where the SQLite file and state live.")
    database: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///<data-dir>/execplanner.sqlite. PostgreSQL supported."
    )
    catalogue: Path | None = Field(None, description="Resource catalogue file; default the bundled one.")
    schema_dir: Path | None = Field(
        None, description="Directory of our JSON Schemas and XSD; default the copies shipped in the package."
    )
    base_url: str | None = Field(
        None, description="Public base URL used in hrefs and Location headers; default derived from the request."
    )
    max_body_bytes: int = Field(1024 * 1024, gt=0, description="Largest request body accepted (413 beyond).")
    max_document_nodes: int = Field(
        10_000,
        gt=0,
        description="Most elements, keys and values a request document may have once YAML aliases are expanded "
        "(checked while parsing; 400 beyond).",
    )
    max_document_depth: int = Field(64, gt=0, le=256, description="Deepest nesting of a request document (400 beyond).")
    max_yaml_aliases: int = Field(
        64, ge=0, description="Most alias references (*name) one YAML request document may use (400 beyond)."
    )
    parse_timeout_seconds: float = Field(
        2.0, gt=0, description="Longest a request document may take to parse and validate, off the event loop (400)."
    )
    parse_processes: int = Field(
        2,
        ge=0,
        le=64,
        description="Worker processes that parse large request bodies, started when first needed; 0 parses every "
        "body in a thread.",
    )
    parse_process_min_bytes: int = Field(
        8 * 1024,
        ge=0,
        description="Request bodies of at least this many bytes are parsed in a worker process, so that their "
        "parsing cannot delay other requests; smaller ones in a thread.",
    )
    parse_queue_length: int = Field(
        8,
        ge=0,
        description="Most large request bodies waiting for a parser process; beyond it they get 503 with "
        "Retry-After at once.",
    )
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="A connection must send a request's complete headers within this time, or is closed."
    )
    body_timeout_seconds: float = Field(
        30.0, gt=0, description="A request's body must arrive whole within this time (408, connection closed)."
    )
    keepalive_timeout_seconds: int = Field(
        5, gt=0, description="An idle keep-alive connection is closed after this many seconds."
    )
    max_connections: int = Field(
        1024, gt=0, description="Most concurrent connections and requests; beyond it requests get 503."
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names (Host header) the service answers for, comma-separated in the environment; "
        "default: the listen address, loopback names and the base URL's host; '*' allows any (400 otherwise).",
    )
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses (or CIDR networks) of reverse proxies whose X-Forwarded-For/-Proto headers are "
        "honoured, comma-separated in the environment; default none: the headers are ignored.",
    )
    database_connections: int = Field(
        30,
        ge=2,
        le=1000,
        description="Most database connections this process opens (PostgreSQL; one is the scheduler's; of the "
        "others a third kept open, the rest on demand).",
    )
    offer_expiry_seconds: float = Field(
        300, gt=0, description="How long an offer holds its capacity, in seconds (fractions allowed)."
    )
    max_offers: int = Field(4, ge=1, le=32, description="Most offers in one offer set.")
    default_vo: str = Field("vo.access.egi.eu", description="VO assumed when neither request nor token names one.")
    scheduler_interval: float = Field(
        0.25, gt=0, description="Longest the scheduler sleeps between passes (it wakes when something falls due)."
    )
    scheduler: bool = Field(True, description="Run the background scheduler loop in this process.")
    broker_standard_id: str = Field(
        "ivo://ivoa.net/std/ExecutionBroker#offersets-1.0",
        description="VOSI standardID of the ExecutionBroker capability (placeholder until IVOA assigns one).",
    )
    planner_standard_id: str = Field(
        "ivo://ivoa.net/std/ExecutionPlanner#accepts-1.0",
        description="VOSI standardID of the legacy ExecutionPlanner /accepts capability (placeholder).",
    )
    log_level: str = Field("INFO", description="Python logging level.")
    admin_token: SecretStr | None = Field(
        None,
        description="Bearer token for /admin endpoints and the operator's view of everyone's offer sets and "
        "sessions; without one /admin answers loopback callers only.",
    )

    issuers: list[str] = Field(
        default_factory=list,
        description="Trusted OIDC token issuers, exactly as their tokens' `iss` (comma-separated in the environment); "
        "none: bearer tokens are ignored and every caller is anonymous.",
    )
    audience: str | None = Field(None, description="When set, a token's `aud` must contain it.")
    require_token: bool = Field(
        False, description="Refuse (401) callers without a valid bearer token; otherwise anonymous callers may ask."
    )

    cloud: Literal["none", "sim", "egi"] = Field(
        "none",
        description="Where accepted sessions run: `sim` the simulated federation started in this process, `egi` the "
        "catalogue's real sites with the configured credentials, `none` nowhere (plan only).",
    )
    launch_timeout: float = Field(600.0, gt=0, description="Seconds a launch may take until its server is ACTIVE.")
    ready_timeout: float = Field(
        300.0, gt=0, description="Seconds an ACTIVE VM has for its access port to answer before the session FAILS."
    )
    teardown_timeout: float = Field(300.0, gt=0, description="Seconds a server may take to disappear on delete.")
    cloud_poll_max: float = Field(
        0.5,
        ge=0.1,
        le=60.0,
        description="Longest pause, in seconds, between two reads (one GET each) of a server or volume being built, "
        "after its first 2 s: the latest the service notices it is ready.",
    )
    launch_workers: int = Field(
        64,
        ge=1,
        le=512,
        description="Sessions one process drives through the cloud at once (threads mostly waiting on a site).",
    )
    claim_seconds: float = Field(
        30.0, gt=0, description="How long a replica's claim on a session lasts unless renewed (crash takeover time)."
    )
    reconcile_interval: float = Field(
        60.0, gt=0, description="Seconds between passes that delete cloud objects of finished or unknown sessions."
    )
    replica_id: str | None = Field(
        None, description="This replica's name in claims; default host name and process id (unique per process)."
    )
    robot_token: SecretStr | None = Field(
        None,
        description="An OIDC access token the service launches with for every VO when the caller left no "
        "application credential (robot mode). Prefer robot_credentials for anything long-lived.",
    )
    robot_credentials: Path | None = Field(
        None,
        description="YAML file of per-VO robot credentials: a Check-in refresh token + client, and/or per-site "
        "application credentials (docs/operator.md).",
    )
    credential_key_file: Path | None = Field(
        None,
        description="File holding the Fernet key that seals per-user application-credential secrets; without one, "
        "per-user launch is disabled (robot mode only).",
    )
    application_credential_margin: float = Field(
        900.0,
        ge=0,
        description="Seconds a per-user application credential outlives the session's lease (room for teardown "
        "retries); Keystone will not let it delete itself, so it stays usable at most this long after the lease.",
    )

    @field_validator("issuers", "allowed_hosts", "trusted_proxies", mode="before")
    @classmethod
    def _split_issuers(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @model_validator(mode="after")
    def _token_needs_an_issuer(self) -> Settings:
        if self.require_token and not self.issuers:
            raise ValueError("require_token needs at least one trusted issuer (EXECPLANNER_ISSUERS)")
        return self

    @property
    def hosts(self) -> list[str]:
        """The Host header values answered: `allowed_hosts`, or the listen address, loopback names and the base
        URL's host. Links are written from the base URL when there is one, else from the (allowed) Host."""
        if self.allowed_hosts:
            return list(self.allowed_hosts)
        listen = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal, as a Host header has it
        hosts = [listen, "localhost", "127.0.0.1", "[::1]"]
        if self.base_url:
            hosts.append(urlsplit(self.base_url).hostname or "")
        return [h for h in dict.fromkeys(hosts) if h]

    @property
    def database_url(self) -> str:
        if self.database:
            return self.database
        return f"sqlite:///{self.data_dir / 'execplanner.sqlite'}"


def _from_env(environ: dict[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in Settings.model_fields:
        key = ENV_PREFIX + name.upper()
        if key in environ and environ[key] != "":
            values[name] = environ[key]
    return values


def _from_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(f"cannot read config file {path}: {reason}") from exc
    section = data.get("execplanner", data)
    if not isinstance(section, dict):
        raise ConfigError(f"config file {path}: [execplanner] must be a table")
    return {key.replace("-", "_"): value for key, value in section.items()}


def load_settings(
    overrides: dict[str, Any] | None = None,
    config_file: Path | None = None,
    environ: dict[str, str] | None = None,
) -> Settings:
    """Merge the layers; `None` overrides mean "not given on the command line"."""
    environ = dict(os.environ) if environ is None else environ
    config_file = config_file or (Path(environ[ENV_PREFIX + "CONFIG"]) if environ.get(ENV_PREFIX + "CONFIG") else None)
    values: dict[str, Any] = {}
    if config_file is not None:
        values.update(_from_toml(config_file))
    values.update(_from_env(environ))
    values.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise ConfigError("invalid settings: " + _one_line(exc)) from exc


def _one_line(exc: ValidationError) -> str:
    """pydantic's report, one clause per bad setting, on one line an operator can read in a log."""
    clauses = []
    for error in exc.errors():
        where = ".".join(str(part) for part in error["loc"]) or "settings"
        shown = error["type"] != "extra_forbidden" and error["loc"][:1] != ("admin_token",)  # may be a secret
        given = f" (got {error['input']!r})" if shown and not isinstance(error.get("input"), dict | None) else ""
        clauses.append(f"{where}: {error['msg']}{given}")
    return "; ".join(clauses)

"""Which credential launches (and tears down) a session: the user's own application credential, made at accept
time and kept sealed in its launch record, or the operator's robot credential for the session's VO.

The session's launch record names the identity used; the secret itself is never logged nor stored in clear.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from execplanner.cloud.connection import ApplicationCredential, Credential, OidcToken, SiteProject
from execplanner.errors import CloudError, ExecPlannerError
from execplanner.model.documents import LaunchIdentity, LaunchMode
from execplanner.store.launches import LaunchRecord

#: Opens a sealed secret (Fernet); None when the operator configured no key.
Unseal = Callable[[str], str]


@dataclass
class RobotCredentials:
    """The operator's credentials: per VO an OIDC access-token source (a static token, or one refreshed at the
    issuer), and per (VO, site) application credentials for sites that take only those. `"*"` matches any VO."""

    tokens: dict[str, Callable[[], str]] = field(default_factory=dict)
    application_credentials: dict[tuple[str, str], ApplicationCredential] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # per VO: what the operator calls its robot account

    def for_site(self, vo: str, site: str) -> tuple[Credential, str] | None:
        """The credential for this VO at this site and the identity it launches as (never a secret)."""
        for place in ((vo, site), ("*", site)):
            if place in self.application_credentials:
                cred = self.application_credentials[place]
                return cred, f"robot application credential {cred.id} for {vo} at {site}"
        key = vo if vo in self.tokens else "*"
        source = self.tokens.get(key)
        if source is None:
            return None
        return OidcToken(source()), self.names.get(key) or f"robot account of {vo}"


@dataclass
class CredentialSource:
    """Per-user first (the record holds a sealed application credential), the robot otherwise."""

    robot: RobotCredentials = field(default_factory=RobotCredentials)
    unseal: Unseal | None = None

    def credential(self, record: LaunchRecord, target: SiteProject) -> tuple[Credential, str]:
        if per_user(record) and _expired(record) and self.robot.for_site(record.vo, target.site) is not None:
            record.credential_sealed = None  # Keystone refuses it now: the VO's robot cleans up instead
        if record.credential_id and record.credential_sealed:
            if self.unseal is None:
                raise CloudError("the session's application credential is sealed but no credential key is configured")
            secret = self.unseal(record.credential_sealed)
            return ApplicationCredential(record.credential_id, secret), record.identity or "the user's credential"
        found = self.robot.for_site(record.vo, target.site)
        if found is None:
            raise CloudError(
                f"no credential to launch with for {record.vo} at {target.site}: the caller left no application "
                "credential and the operator configured no robot credential for this VO"
            )
        return found


def _expired(record: LaunchRecord) -> bool:
    return record.credential_expires is not None and record.credential_expires <= datetime.now(UTC)


def per_user(record: LaunchRecord) -> bool:
    """Whether the session launches with its owner's own application credential (as `CredentialSource` decides)."""
    return bool(record.credential_id and record.credential_sealed)


def launch_identity(
    record: LaunchRecord, target: SiteProject, credential: Credential, owner: str | None
) -> LaunchIdentity:
    """The session's `launch` field: who, where, with what kind of credential — no secret."""
    mine = per_user(record)
    app = isinstance(credential, ApplicationCredential)
    return LaunchIdentity(
        mode=LaunchMode.PER_USER if mine else LaunchMode.ROBOT,
        identity=(owner if mine and owner else None) or record.identity or "unknown",
        site=target.site,
        project=target.project_id,
        credential="application-credential" if app else "oidc-access-token",
        credential_id=credential.id if isinstance(credential, ApplicationCredential) else None,
        expires=record.credential_expires if mine else None,
    )


def _static(token: str) -> Callable[[], str]:
    return lambda: token


def robot_from_file(path: Path) -> RobotCredentials:
    """Read the operator's per-VO robot credentials (docs/operator.md); errors name the file, never a secret."""
    import yaml

    from execplanner.auth.refresh import RefreshingToken

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ExecPlannerError(f"cannot read robot credentials {path}: {type(exc).__name__}") from exc
    robot = RobotCredentials()
    for vo, entry in document.items():
        if not isinstance(entry, dict):
            raise ExecPlannerError(f"robot credentials {path}: the entry of {vo} is not a mapping")
        _check_entry(path, str(vo), entry)
        if entry.get("name"):
            robot.names[str(vo)] = str(entry["name"])
        if entry.get("refresh_token"):
            robot.tokens[str(vo)] = RefreshingToken(
                str(entry["token_endpoint"]),
                str(entry["client_id"]),
                str(entry["refresh_token"]),
                entry.get("client_secret"),
            )
        elif entry.get("access_token"):
            robot.tokens[str(vo)] = _static(str(entry["access_token"]))
        for site, cred in (entry.get("sites") or {}).items():
            robot.application_credentials[(str(vo), str(site))] = ApplicationCredential(
                str(cred["application_credential_id"]), str(cred["application_credential_secret"])
            )
    return robot


def _check_entry(path: Path, vo: str, entry: dict[str, object]) -> None:
    """Name what is missing, never a value."""
    if entry.get("refresh_token"):
        missing = [key for key in ("token_endpoint", "client_id") if not entry.get(key)]
        if missing:
            raise ExecPlannerError(f"robot credentials {path}: {vo} has a refresh_token but no {' or '.join(missing)}")
    sites = entry.get("sites") or {}
    if not isinstance(sites, dict):
        raise ExecPlannerError(f"robot credentials {path}: sites of {vo} is not a mapping")
    for site, cred in sites.items():
        keys = ("application_credential_id", "application_credential_secret")
        if not isinstance(cred, dict) or not all(cred.get(key) for key in keys):
            raise ExecPlannerError(f"robot credentials {path}: {vo} at {site} needs {' and '.join(keys)}")


def robot_from_settings(token: str | None, path: Path | None) -> RobotCredentials:
    robot = robot_from_file(path) if path is not None else RobotCredentials()
    if token:
        robot.tokens.setdefault("*", _static(token))
    return robot

"""The caller's bearer token: `--token`, else `--oidc-agent ACCOUNT` (via `oidc-token`), else the environment.

A token on the command line is visible to other users of the machine (`ps`); the environment or oidc-agent
are the better habits, and the docs say so."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping

from execplanner.errors import TokenUnavailable

TOKEN_ENV_VARS = ("EXECPLANNER_OIDC_TOKEN", "OIDC_ACCESS_TOKEN")
OIDC_TOKEN_TIMEOUT = 30.0


def from_oidc_agent(account: str) -> str:
    """Ask oidc-agent for a fresh access token of ACCOUNT (the agent must be running and the account loaded)."""
    program = shutil.which("oidc-token")
    if program is None:
        raise TokenUnavailable(
            f"--oidc-agent {account}: oidc-token is not installed (https://indigo-dc.gitbook.io/oidc-agent/); "
            "install oidc-agent, or pass the token in EXECPLANNER_OIDC_TOKEN"
        )
    try:
        done = subprocess.run(
            [program, account], capture_output=True, text=True, timeout=OIDC_TOKEN_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TokenUnavailable(f"--oidc-agent {account}: oidc-token did not answer ({exc})") from exc
    token = done.stdout.strip()
    if done.returncode != 0 or not token:
        said = " ".join(done.stderr.split())[:300] or f"exit status {done.returncode}"
        raise TokenUnavailable(f"--oidc-agent {account}: oidc-token failed: {said}")
    return token


def resolve(
    token: str | None = None, oidc_agent: str | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """The token to send, or None for an anonymous call."""
    if token and token.strip():
        return token.strip()
    if oidc_agent:
        return from_oidc_agent(oidc_agent)
    found: Mapping[str, str] = os.environ if environ is None else environ
    return next((found[name].strip() for name in TOKEN_ENV_VARS if found.get(name, "").strip()), None)
